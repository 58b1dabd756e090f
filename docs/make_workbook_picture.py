"""Export the demo's year as the assessment workbook and picture it as printed.

    .venv/bin/python docs/make_workbook_picture.py [--png docs/workbook.png] [--keep DIR]

Builds the demo workspace (sample mail of 2023, polled through the real pipeline) in a
temporary folder, excuses one unit, exports the workbook as of 2023-12-31, prints it to PDF
with LibreOffice headless (`soffice --headless --convert-to pdf`) and turns the first page
into a PNG with `pdftoppm` (apt-get install libreoffice-calc poppler-utils fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.cli import main as cli  # noqa: E402
from tracker.demo import make_workspace  # noqa: E402


def run(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(result.output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", default=str(ROOT / "docs" / "workbook.png"))
    parser.add_argument("--keep", help="Keep the workspace, workbook and PDF here.")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="workbook-"))
    ws = make_workspace(work / "demo")
    config = str(ws.config)
    run("--config", config, "poll", "--once")
    run("--config", config, "excuse", "县医保局", "2023-06", "--note", "机构改革，经同意免报")
    book = work / "2023.xlsx"
    run("--config", config, "export", "--year", "2023", "--as-of", "2023-12-31",
        "--out", str(book))  # fmt: skip
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(work), str(book)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    stem = work / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", str(work / "2023.pdf"), str(stem)],
        check=True,
    )
    page = next(work.glob("page*.png"))
    shutil.copyfile(page, args.png)
    print(f"wrote {args.png}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""Remake the legacy Word fixtures here (needs LibreOffice Writer: the Debian package
libreoffice-writer-nogui). The tests read the committed files; they do not run this.

Run: .venv/bin/python tests/documents/make.py

- writeup.doc: a two-paragraph Chinese write-up, written by python-docx and saved by
  LibreOffice as "MS Word 97" (a real OLE .doc with a piece table).
- title-only.doc: the same with a title and no text (not a write-up).
- writeup.wps: writeup.doc under a .wps name. WPS Office saves .wps as the same OLE Word
  format; no WPS Office was at hand to write a genuine one, so this is a renamed .doc.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import docx

HERE = Path(__file__).resolve().parent
TEXT = (
    "6月8日上午，我镇在镇政府便民服务中心开展政务公开主题日活动。镇党委副书记主持活动，"
    "邀请二十余名群众代表走进政务服务大厅，现场讲解政务公开目录和办事流程，发放宣传资料两百余份。",
    "活动还设置了意见征集台，收集群众意见建议十二条，已逐条登记并明确办理时限。",
)


def _docx(path: Path, paragraphs: tuple[str, ...]) -> None:
    document = docx.Document()
    document.add_heading("政务公开主题日活动信息", 1)
    for p in paragraphs:
        document.add_paragraph(p)
    document.save(str(path))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _docx(work / "writeup.docx", TEXT)
        _docx(work / "title-only.docx", ())
        for name in ("writeup", "title-only"):
            subprocess.run(
                ["libreoffice", "--headless", f"-env:UserInstallation=file://{work}/profile",
                 "--convert-to", "doc:MS Word 97", "--outdir", str(work), str(work / f"{name}.docx")],
                check=True, capture_output=True, timeout=180,
            )  # fmt: skip
            shutil.copyfile(work / f"{name}.doc", HERE / f"{name}.doc")
    shutil.copyfile(HERE / "writeup.doc", HERE / "writeup.wps")


if __name__ == "__main__":
    main()

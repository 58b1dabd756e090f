"""What a clerk reads groups the departments by the office's own level: 县直单位 in a county,
市直单位 in a county-level city, 区直单位 in a district: never the county's word elsewhere."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from intake.places import Jurisdiction
from tests.mail_helpers import write_config
from tracker.cli import main

PLACES = Path(__file__).parent / "places"


def test_the_level_names_the_departments() -> None:
    assert Jurisdiction("湘潭县", "湘潭市").kind_label("department") == "县直单位"
    assert Jurisdiction("韶山市", "湘潭市").kind_label("department") == "市直单位"
    assert Jurisdiction("雨湖区", "湘潭市").kind_label("department") == "区直单位"
    assert Jurisdiction("雨湖区", "湘潭市").kind_label("township") == "乡镇"


def test_a_districts_digest_and_workbook_say_qu(tmp_path: Path) -> None:
    config = write_config(tmp_path, smtp_port=1, roster=PLACES / "yuhu-district.toml")

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    html = tmp_path / "digest.html"
    run("digest", "--dry-run", "--as-of", "2023-05-29", "--out", str(html))
    page = html.read_text(encoding="utf-8")
    assert "区直单位" in page and "县直单位" not in page
    out = tmp_path / "year.xlsx"
    run("export", "--year", "2023", "--out", str(out), "--as-of", "2023-12-31")
    wb = load_workbook(out)
    cells = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    assert "区直单位" in cells and "县直单位" not in cells

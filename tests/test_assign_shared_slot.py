"""`assign` onto a slot that already counts a report: the clerk is told which one (its
登记编号) and what happens to it (it stays counted, the new one counts beside it), on the
command line and on the board; a slot with nothing in it says nothing more."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.web_helpers import Client, make_workspace
from tracker.app import App
from tracker.cli import main
from tracker.clock import FixedClock
from tracker.slots import slot_states
from tracker.web import create_app

AS_OF = date(2023, 6, 30)
# the sample workspace: #9 is 县林业局's May report, #10 (活动照片) waits in review


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("shared-slot")).parent


@pytest.fixture
def config(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "ws")
    return tmp_path / "ws" / "config.toml"


def counted(config: Path, unit: str, period: str) -> tuple[str, list[int]]:
    app = App.from_path(config)
    try:
        with app.db.session() as s:
            [row] = slot_states(
                s,
                as_of=AS_OF,
                tz=app.config.timezone,
                unit=unit,
                period=period,
            )
        return row.state, [sub.message_id for sub in row.submissions]
    finally:
        app.close()


def assign(config: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(main, ["--config", str(config), "assign", *args])
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.strip()]


def test_the_command_line_names_the_report_already_there_and_keeps_it(config: Path) -> None:
    assert counted(config, "县林业局", "2023-05") == ("received", [9])
    lines = assign(config, "10", "--unit", "县林业局、河口镇", "--period", "2023-05")
    assert lines[0] == "#10: report for 河口镇、县林业局 2023-05 (staff decision)"
    assert lines[1:] == [
        "note: 县林业局 2023-05 already had report BS2023-0009 (#9); it stays counted and #10 "
        "is counted with it: the slot now holds 2 reports. To count only one, unassign the "
        "other (report-intake unassign 9)."
    ]  # 河口镇's slot was empty: nothing said about it
    # what the note says is what happened: both count
    assert counted(config, "县林业局", "2023-05") == ("received", [9, 10])
    assert counted(config, "河口镇", "2023-05") == ("received", [10])


def test_an_empty_slot_gets_no_note(config: Path) -> None:
    lines = assign(config, "10", "--unit", "河口镇", "--period", "2023-05")
    assert lines == ["#10: report for 河口镇 2023-05 (staff decision)"]


def test_the_board_says_it_after_the_outcome(config: Path) -> None:
    app = App.from_path(config)
    try:
        web = create_app(app, clock=FixedClock.at_date(AS_OF))
        web.testing = True
        clerk = Client(web.test_client())
        assert clerk.login("clerk").status_code == 302
        r = clerk.post(
            "/messages/10/assign", {"unit": "林业局", "period": "2023-05", "next": "/review"}
        )
        page = clerk.get(r.headers["Location"]).data.decode()
        said = re.findall(r'<p class="flash (\w+)">(.*?)</p>', page)
        assert said == [
            ("ok", "#10 已指定为 县林业局 2023-05。"),
            (
                "warn",
                "注意：县林业局 2023年5月 原已有报送（登记编号 BS2023-0009），原报送仍然计入，"
                "#10 也一并计入该月，现共 2 封报送（导出表列出全部登记编号）。"
                "如只应保留一封，请将另一封退回待核。",
            ),
        ]
        # an empty slot: the outcome only
        clerk.post("/messages/11/assign", {"unit": "河口镇", "period": "2023-05"})
        page = clerk.get("/messages/11").data.decode()
        assert re.findall(r'<p class="flash (\w+)">', page) == ["ok"]
    finally:
        app.close()
    assert counted(config, "县林业局", "2023-05") == ("received", [9, 10])

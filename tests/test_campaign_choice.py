"""Staff pick the campaign when a unit owes the same month in two of them.

With two campaigns active and a unit+month in both, `assign`, `excuse` and `reschedule`
refuse in one line naming the campaigns and asking for `--campaign`; with it they act on
that campaign's slot only; an undo puts a report back into the campaign it was counted in.
With one campaign nothing changes (the rest of the suite). SQLite and PostgreSQL. The board's campaign picker and
its `--as-of` are in tests/test_web_campaigns.py."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.test_campaigns import C2024, cli, config_for, deliver, mail, poll, roster_2024
from tracker.app import App
from tracker.cli import main
from tracker.models import Message, Slot, Submission, Unit

SPECIAL = "2024年政务公开专项"


def special_roster(tmp_path: Path) -> Path:
    """A second collection of 2024 that also asks 县林业局 for May."""
    path = tmp_path / "special.toml"
    path.write_text(
        f'[campaign]\nname = "{SPECIAL}"\nkeywords = ["专项"]\ndeadline_day = 28\n'
        '[[unit]]\nname = "县林业局"\nmonths = ["2024-05"]\n',
        encoding="utf-8",
    )
    return path


def two_campaigns(tmp_path: Path, database_url: str = "") -> Path:
    config = config_for(tmp_path, roster_2024(tmp_path), special_roster(tmp_path))
    if database_url:
        text = re.sub(
            r'^url = ".*"$', f'url = "{database_url}"', config.read_text("utf-8"), flags=re.M
        )
        config.write_text(text, encoding="utf-8")
    deliver(tmp_path, mail("县林业局5月活动图片", "Sat, 18 May 2024", 7))
    poll(config)
    return config


def refused(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def slots(config: Path) -> dict[str, tuple[str, bool, str | None]]:
    """campaign -> (period, excused, moved_from) of 县林业局's slots."""
    app = App.from_path(config)
    try:
        with app.db.session() as s:
            rows = s.scalars(select(Slot).join(Unit).where(Unit.name == "县林业局")).all()
            return {r.campaign: (r.period, r.excused, r.moved_from) for r in rows}
    finally:
        app.close()


def counted_in(config: Path) -> list[str]:
    app = App.from_path(config)
    try:
        with app.db.session() as s:
            return sorted(
                s.scalars(
                    select(Slot.campaign).join(Submission, Submission.slot_id == Slot.id)
                ).all()
            )
    finally:
        app.close()


def test_assign_asks_which_campaign_and_undo_keeps_it(tmp_path: Path, database_url: str) -> None:
    config = two_campaigns(tmp_path, database_url)
    line = refused(config, "assign", "1", "--unit", "县林业局", "--period", "2024-05")
    assert C2024 in line and SPECIAL in line and "--campaign" in line, line
    assert counted_in(config) == []

    line = refused(
        config, "assign", "1", "--unit", "县林业局", "--period", "2024-05", "--campaign", "nope"
    )
    assert "nope" in line and SPECIAL in line, line

    out = cli(
        config, "assign", "1", "--unit", "林业局", "--period", "2024-05", "--campaign", SPECIAL
    )
    assert "县林业局 2024-05" in out
    assert counted_in(config) == [SPECIAL]

    cli(config, "unassign", "1")
    assert counted_in(config) == []
    history = cli(config, "history")
    unassign_id = next(
        line.split()[0].lstrip("#") for line in history.splitlines() if "unassign" in line
    )
    cli(config, "undo", unassign_id)
    assert counted_in(config) == [SPECIAL]  # back in the campaign staff chose, not in review
    app = App.from_path(config)
    with app.db.session() as s:
        assert s.scalars(select(Message)).one().decision == "matched"
    app.close()


def test_excuse_and_reschedule_ask_which_campaign(tmp_path: Path, database_url: str) -> None:
    config = two_campaigns(tmp_path, database_url)
    line = refused(config, "excuse", "县林业局", "2024-05")
    assert C2024 in line and SPECIAL in line and "--campaign" in line, line
    cli(config, "excuse", "县林业局", "2024-05", "--campaign", C2024, "--note", "停电")
    got = slots(config)
    assert got[C2024][1] is True and got[SPECIAL][1] is False

    line = refused(config, "reschedule", "县林业局", "2024-05", "2024-06")
    assert "--campaign" in line, line
    out = cli(config, "reschedule", "县林业局", "2024-05", "2024-06", "--campaign", SPECIAL)
    assert "due 2024-06-28" in out  # the special campaign's own day, not the 20th
    got = slots(config)
    assert got[SPECIAL] == ("2024-06", False, "2024-05")
    assert got[C2024][0] == "2024-05"
    # the month is no longer ambiguous: no --campaign needed
    cli(config, "excuse", "县林业局", "2024-05", "--undo")
    assert slots(config)[C2024][1] is False


def test_one_campaign_in_the_month_needs_no_campaign(tmp_path: Path) -> None:
    config = two_campaigns(tmp_path)
    # 县水利局 owes 2024-11 only in the theme day: the commands work as before
    out = cli(config, "excuse", "县水利局", "2024-11", "--note", "x")
    assert "excused" in out
    deliver(tmp_path, mail("县林业局5月政务公开主题日专项活动", "Sun, 19 May 2024", 8))
    poll(config)
    # the subject names the special campaign's keyword: the assign needs no --campaign
    cli(config, "assign", "2", "--unit", "县林业局", "--period", "2024-05")
    assert counted_in(config) == [SPECIAL]


def test_unassign_undoes_only_the_campaign_it_names(tmp_path: Path, database_url: str) -> None:
    config = two_campaigns(tmp_path, database_url)
    cli(config, "assign", "1", "--unit", "县林业局", "--period", "2024-05", "--campaign", SPECIAL)
    # the other campaign, or a name that is none: one line, nothing undone
    line = refused(config, "unassign", "1", "--campaign", C2024)
    assert f"counted in {SPECIAL}, not in {C2024}" in line and "nothing undone" in line, line
    line = refused(config, "unassign", "1", "--campaign", "nope")
    assert "nope" in line and SPECIAL in line and C2024 in line, line
    assert counted_in(config) == [SPECIAL]
    assert "unassign" not in cli(config, "history")

    out = cli(config, "unassign", "1", "--campaign", SPECIAL, "--note", "单位说不是专项")
    assert "#1: back in review" in out
    assert counted_in(config) == []
    line = refused(config, "unassign", "1", "--campaign", SPECIAL)
    assert "already in review" in line, line

    # a decision that counts the mail in no campaign (ignored): named as such
    cli(config, "ignore", "1")
    line = refused(config, "unassign", "1", "--campaign", SPECIAL)
    assert "counted in no campaign" in line, line
    cli(config, "unassign", "1")  # without --campaign, as before
    assert "--campaign" in cli(config, "unassign", "--help")

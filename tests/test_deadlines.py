"""Deadline rules: the campaign's day of the month (`deadline_day`), a fixed date per unit
(`due`), and a campaign that ends: after its last due date and the overdue reminders it
sends nothing (no reminder, no digest)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.mail_helpers import make_env
from tracker.app import App
from tracker.clock import SHANGHAI, FixedClock
from tracker.jobs import Jobs
from tracker.models import Slot, Unit
from tracker.outgoing.reminders import plan_reminders
from tracker.roster import RosterError, load_roster

ROSTER = """
[campaign]
name = "2024年政务公开主题日"
jurisdiction = "韶山市"
parent = "湘潭市"
office = "韶山市政务公开办"
mailbox = "ssgov@163.com"
deadline_day = 20

[[unit]]
name = "市林业局"
emails = ["lyj@example.com"]
months = ["2024-05"]

[[unit]]
name = "市公安局"
emails = ["gaj@example.com"]
months = ["2024-06"]
due = 2024-07-05

[[unit]]
name = "清溪镇"
kind = "township"
emails = ["qxz@example.com"]
months = ["2024-10", "2024-11"]
due = {"2024-11" = "2024-12-10"}
"""


def _env(tmp_path: Path, text: str = ROSTER):  # type: ignore[no-untyped-def]
    roster = tmp_path / "roster.toml"
    roster.write_text(text, encoding="utf-8")
    return make_env(tmp_path, 1, roster=roster)


def _dues(env) -> dict[tuple[str, str], date]:  # type: ignore[no-untyped-def]
    with env.db.session() as s:
        rows = s.execute(select(Unit.name, Slot.period, Slot.due).join(Slot.unit)).all()
    return {(n, p): d for n, p, d in rows}


def test_it_dates_slots_by_the_campaigns_day_or_the_units_fixed_date(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _dues(env) == {
        ("市林业局", "2024-05"): date(2024, 5, 20),
        ("市公安局", "2024-06"): date(2024, 7, 5),
        ("清溪镇", "2024-10"): date(2024, 10, 20),
        ("清溪镇", "2024-11"): date(2024, 12, 10),
    }


def test_a_changed_fixed_date_moves_the_slot(tmp_path: Path) -> None:
    env = _env(tmp_path)
    (tmp_path / "roster.toml").write_text(ROSTER.replace("2024-07-05", "2024-07-08"), "utf-8")
    from tracker.slots import sync_roster

    with env.db.session() as s:
        sync_roster(s, load_roster(tmp_path / "roster.toml"))
    assert _dues(env)[("市公安局", "2024-06")] == date(2024, 7, 8)


@pytest.mark.parametrize(
    ("unit", "message"),
    [
        ('months = ["2024-05", "2024-06"]\ndue = 2024-06-01', "one date for several months"),
        ('months = ["2024-05"]\ndue = "next week"', "'next week' is not a date"),
        ('months = ["2024-05"]\ndue = {"2024-06" = 2024-06-01}', "'2024-06' is not one of its"),
        ('months = ["2024-05"]\ndue = {"2024-05" = 5}', "2024-05: 5 is not a date"),
    ],
)
def test_a_bad_due_date_is_one_line(tmp_path: Path, unit: str, message: str) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(f'[[unit]]\nname = "县林业局"\n{unit}\n', encoding="utf-8")
    with pytest.raises(RosterError, match=message) as err:
        load_roster(path)
    assert "\n" not in str(err.value) and "县林业局" in str(err.value)


def test_the_campaign_is_active_from_its_first_month_to_after_its_last_due_date(
    tmp_path: Path,
) -> None:
    roster = _env(tmp_path).roster
    part = roster.parts[0]
    assert part.first_day() == date(2024, 5, 1)
    assert part.last_due() == date(2024, 12, 10)
    assert not roster.active(date(2024, 4, 30), 7)
    assert roster.active(date(2024, 5, 1), 7)
    assert roster.active(date(2024, 12, 31), 7)  # 10 Dec + 7 + 14 days
    assert not roster.active(date(2025, 1, 1), 7)


def test_an_ended_campaign_sends_no_reminder(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with env.db.session() as s:
        # 11 Dec: 清溪镇's November report is overdue by a day
        late = plan_reminders(s, env.roster, env.config, date(2024, 12, 11))
        assert [(p.unit, p.period, p.stage) for p in late] == [("清溪镇", "2024-11", "overdue:1")]
        for day in (date(2025, 1, 6), date(2025, 3, 3), date(2025, 5, 6)):
            assert plan_reminders(s, env.roster, env.config, day) == [], day


def test_an_ended_campaign_sends_no_digest(tmp_path: Path) -> None:
    env = _env(tmp_path)
    app = App(env.config)
    try:
        at = lambda d: FixedClock(datetime.combine(d, time(8, 30), tzinfo=SHANGHAI))  # noqa: E731
        assert Jobs(app, at(date(2025, 3, 3))).digest() is False
        assert Jobs(app, at(date(2024, 4, 29))).digest() is False  # not begun either
        assert Jobs(app, at(date(2024, 6, 3))).digest() is True
    finally:
        app.close()


NEXT_MONTH = ROSTER.replace("deadline_day = 20", 'deadline_day = 5\ndeadline_month = "next"')


def test_day_n_of_the_following_month(tmp_path: Path) -> None:
    """次月5日前: May's report is due on 5 June, December's on 5 January; states, reminders
    and the campaign's end follow that date, not the activity month's."""
    text = NEXT_MONTH.replace('months = ["2024-10", "2024-11"]', 'months = ["2024-10", "2024-12"]')
    text = text.replace('due = {"2024-11" = "2024-12-10"}', "")
    env = _env(tmp_path, text)
    assert _dues(env) == {
        ("市林业局", "2024-05"): date(2024, 6, 5),
        ("市公安局", "2024-06"): date(2024, 7, 5),  # its fixed date still wins
        ("清溪镇", "2024-10"): date(2024, 11, 5),
        ("清溪镇", "2024-12"): date(2025, 1, 5),
    }
    from tracker.slots import slot_states

    def state(day: date) -> str:
        with env.db.session() as s:
            rows = slot_states(s, as_of=day, tz=SHANGHAI, unit="市林业局")
        return rows[0].state

    assert state(date(2024, 5, 31)) == "open"
    assert state(date(2024, 6, 5)) == "open"
    assert state(date(2024, 6, 6)) == "missing"
    with env.db.session() as s:
        stages = {
            day: [(p.unit, p.stage) for p in plan_reminders(s, env.roster, env.config, day)]
            for day in (date(2024, 5, 27), date(2024, 6, 3), date(2024, 6, 6), date(2024, 6, 7))
        }
    assert ("市林业局", "overdue:1") not in stages[date(2024, 5, 27)]  # the old 25th is no day
    assert ("市林业局", "overdue:1") in stages[date(2024, 6, 6)] + stages[date(2024, 6, 7)]
    assert env.roster.parts[0].last_due() == date(2025, 1, 5)
    assert env.roster.active(date(2025, 1, 20), 7)


@pytest.mark.parametrize("value", ['"following"', "1", '"当月"'])
def test_a_bad_deadline_month_is_one_line(tmp_path: Path, value: str) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(
        f'[campaign]\ndeadline_month = {value}\n[[unit]]\nname = "县林业局"\nmonths = ["2024-05"]\n',
        encoding="utf-8",
    )
    with pytest.raises(RosterError, match='deadline_month: must be "same"') as err:
        load_roster(path)
    assert "\n" not in str(err.value)


def test_day_n_of_the_following_month_from_the_command_line(tmp_path: Path) -> None:
    """`status` and `remind` with --as-of on a 次月5日前 roster: May's report is open until
    5 June, reminded 2 working days before it (3 June) and overdue from 6 June."""
    import json

    from click.testing import CliRunner

    from tests.mail_helpers import write_config
    from tracker.cli import main

    (tmp_path / "roster.toml").write_text(NEXT_MONTH, encoding="utf-8")
    config = str(write_config(tmp_path, smtp_port=1, roster=tmp_path / "roster.toml"))

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", config, *args])
        assert result.exit_code == 0, result.output
        return result.output

    def state(day: str) -> tuple[str, str]:
        rows = json.loads(run("status", "--json", "--as-of", day, "--period", "2024-05"))
        row = next(r for r in rows if r["unit"] == "市林业局")
        return row["due"], row["state"]

    assert state("2024-05-31") == ("2024-06-05", "open")
    assert state("2024-06-05") == ("2024-06-05", "open")
    assert state("2024-06-06") == ("2024-06-05", "missing")
    assert "市林业局 2024-05 before:2" in run("remind", "--dry-run", "--as-of", "2024-06-03")
    assert "市林业局 2024-05 overdue" not in run("remind", "--dry-run", "--as-of", "2024-05-27")
    assert "市林业局 2024-05 overdue:1" in run("remind", "--dry-run", "--as-of", "2024-06-06")

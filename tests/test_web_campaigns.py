"""The board with two campaigns (SQLite and PostgreSQL): a campaign picker (`?campaign=`,
kept across the board's links and forms), slot forms that carry their slot's campaign, an
assign that asks which campaign when a unit owes the month in both, the export of the picked
campaign, and `web --as-of` (the day the states are computed for, said on every page)."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.test_campaigns import deliver, mail
from tests.web_helpers import PASSWORDS, Client
from tests.web_helpers import run as cli
from tracker.app import App
from tracker.cli import main
from tracker.clock import FixedClock
from tracker.models import Message, Slot, Submission, Unit
from tracker.web import create_app

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"
THEME = "2023年政务公开主题日"
SPECIAL = "2023年政务公开专项"
AS_OF = date(2023, 6, 20)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    deliver(tmp_path, mail("县林业局5月活动图片", "Thu, 18 May 2023", 1))  # in both: review
    shutil.copyfile(ROSTER, tmp_path / "roster.toml")
    (tmp_path / "special.toml").write_text(
        f'[campaign]\nname = "{SPECIAL}"\nkeywords = ["专项"]\ndeadline_day = 28\n'
        '[[unit]]\nname = "县林业局"\nmonths = ["2023-05"]\n'
        '[[unit]]\nname = "县民政局"\nmonths = ["2023-06"]\n',
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        '[office]\naddresses = ["xtxgov@126.com"]\n'
        '[mailbox]\ntype = "maildir"\npath = "Maildir"\n'
        f'[database]\nurl = "{database_url}"\n'
        '[storage]\ndir = "data"\n[roster]\nfiles = ["roster.toml", "special.toml"]\n',
        encoding="utf-8",
    )
    cli(config, "poll", "--once")
    cli(
        config,
        "user",
        "add",
        "clerk",
        "--role",
        "clerk",
        "--password-stdin",
        input="clerk-password-1\n",
    )
    return config


@pytest.fixture
def app(config: Path) -> Iterator[App]:
    a = App.from_path(config)
    yield a
    a.close()


def board(app: App, as_of: date | None = None) -> Client:
    web = create_app(app, clock=FixedClock(datetime(2023, 6, 20, 4, tzinfo=UTC)), as_of=as_of)
    web.testing = True
    c = Client(web.test_client())
    assert c.login("clerk", PASSWORDS["clerk"]).status_code == 302
    return c


def flashes(page: bytes) -> list[str]:
    return [m.decode() for m in re.findall(rb'<p class="flash[^"]*">(.*?)</p>', page)]


def slots_of(app: App, unit: str) -> dict[str, tuple[str, bool]]:
    with app.db.session() as s:
        rows = s.scalars(select(Slot).join(Unit).where(Unit.name == unit)).all()
        return {r.campaign: (r.period, r.excused) for r in rows}


def test_the_picker_is_kept_across_links_and_picks_the_slots(app: App) -> None:
    c = board(app)
    page = c.get("/").data.decode()
    assert THEME in page and SPECIAL in page  # the picker names both
    assert "进行中的活动" in page
    # both are active on 20 June: the title names both, 县民政局's two June rows say which
    assert f"{THEME}、{SPECIAL} · 报送管理" in page
    assert re.search(r"县民政局</a><br><span class=\"muted small\">" + SPECIAL, page)
    # the year's table groups its rows by campaign: 县民政局 has a row in each
    assert f"{THEME} · 县直单位" in page and f"{SPECIAL} · 县直单位" in page
    assert f"{SPECIAL} · 乡镇" not in page  # the special campaign asks no township
    picked = quote(SPECIAL)
    page = c.get(f"/?campaign={picked}").data.decode()
    # the board's own links keep the pick: the menu, the units, the picker's "on" mark
    assert f'/review?campaign={picked}"' in page
    assert f"/units/%E5%8E%BF%E6%B0%91%E6%94%BF%E5%B1%80?campaign={picked}" in page
    assert f'campaign={picked}" class="on"' in page
    # only the special campaign's units are in its grid
    assert "云湖桥镇" not in page and "县民政局" in page
    assert "云湖桥镇" in c.get(f"/?campaign={quote(THEME)}").data.decode()
    assert c.get("/?campaign=nope").status_code == 404
    # a unit's page: the picked campaign's slots only, its forms carry the campaign
    unit = c.get(f"/units/县林业局?campaign={picked}").data.decode()
    assert f'name="campaign" value="{SPECIAL}"' in unit
    assert f'name="campaign" value="{THEME}"' not in unit
    both = c.get("/units/县林业局?campaign=").data.decode()
    assert (
        f'name="campaign" value="{SPECIAL}"' in both and f'name="campaign" value="{THEME}"' in both
    )


def test_slot_forms_act_on_their_campaign_and_ambiguity_is_refused(app: App) -> None:
    c = board(app)
    # a form without the campaign (an old page): refused with both names
    r = c.post("/units/县林业局/excuse", {"period": "2023-05", "note": "x"})
    said = flashes(c.get(r.headers["Location"]).data)
    assert any(THEME in f and SPECIAL in f and "请选择活动" in f for f in said), said
    assert slots_of(app, "县林业局") == {THEME: ("2023-05", False), SPECIAL: ("2023-05", False)}
    # the unit page's form, with its slot's campaign
    c.post("/units/县林业局/excuse", {"period": "2023-05", "note": "停电", "campaign": SPECIAL})
    assert slots_of(app, "县林业局") == {THEME: ("2023-05", False), SPECIAL: ("2023-05", True)}
    r = c.post(
        "/units/县林业局/reschedule",
        {"period": "2023-05", "to_period": "2023-07", "campaign": THEME},
    )
    assert slots_of(app, "县林业局")[THEME] == ("2023-07", False)


def test_assign_asks_which_campaign(app: App) -> None:
    with app.db.session() as s:
        mid = s.scalars(select(Message.id).where(Message.decision == "review")).first()
    assert mid is not None
    c = board(app)
    form = c.get(f"/messages/{mid}").data.decode()
    assert 'name="campaign"' in form and "按单位和月份判断" in form
    r = c.post(f"/messages/{mid}/assign", {"unit": "县林业局", "period": "2023-05"})
    said = flashes(c.get(r.headers["Location"]).data)
    assert any("同时属于几项活动" in f and SPECIAL in f for f in said), said
    c.post(
        f"/messages/{mid}/assign", {"unit": "县林业局", "period": "2023-05", "campaign": SPECIAL}
    )
    with app.db.session() as s:
        counted = s.scalars(
            select(Slot.campaign)
            .join(Submission, Submission.slot_id == Slot.id)
            .where(Submission.message_id == mid)
        ).all()
    assert counted == [SPECIAL]


def test_export_follows_the_picked_campaign(app: App) -> None:
    c = board(app)
    r = c.get(f"/export.xlsx?year=2023&campaign={quote(SPECIAL)}")
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.data))
    cells = {str(v) for row in book.worksheets[0].iter_rows(values_only=True) for v in row if v}
    assert "县民政局" in cells and "县林业局" in cells and "云湖桥镇" not in cells
    r = c.get(f"/export.xlsx?year=2023&campaign={quote(THEME)}")
    book = openpyxl.load_workbook(io.BytesIO(r.data))
    cells = {str(v) for row in book.worksheets[0].iter_rows(values_only=True) for v in row if v}
    assert "云湖桥镇" in cells


def test_as_of_sets_the_day_of_the_states_and_says_so(app: App) -> None:
    plain = board(app).get("/").data.decode()
    assert "--as-of" not in plain and "截至 2023-06-20" in plain
    c = board(app, as_of=date(2023, 5, 10))
    page = c.get("/").data.decode()
    assert "截至 2023-05-10" in page
    assert "按 2023-05-10 计算" in page and "--as-of" in page
    assert "按 2023-05-10 计算" in c.get("/units/县林业局").data.decode()
    # 县林业局's May report (its mail waits in review): open on 10 May, missing on 20 June
    theme = f"/units/县林业局?campaign={quote(THEME)}"
    assert 'class="badge s-open"' in c.get(theme).data.decode()
    assert 'class="badge s-missing"' in board(app).get(theme).data.decode()
    result = CliRunner().invoke(main, ["web", "--as-of", "2023-13-01"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--as-of" in CliRunner().invoke(main, ["web", "--help"]).output


def test_unassign_carries_the_campaign_the_page_showed(app: App) -> None:
    with app.db.session() as s:
        mid = s.scalars(select(Message.id).where(Message.decision == "review")).first()
    assert mid is not None
    c = board(app)
    c.post(
        f"/messages/{mid}/assign", {"unit": "县林业局", "period": "2023-05", "campaign": SPECIAL}
    )
    page = c.get(f"/messages/{mid}").data.decode()
    form = page[page.index(f'action="/messages/{mid}/unassign"') :]
    form = form[: form.index("</form>")]
    assert f'name="campaign" value="{SPECIAL}"' in form

    def counted() -> list[str]:
        with app.db.session() as s:
            return list(
                s.scalars(
                    select(Slot.campaign)
                    .join(Submission, Submission.slot_id == Slot.id)
                    .where(Submission.message_id == mid)
                )
            )

    # a stale page that showed it in the other campaign: refused, nothing undone
    r = c.post(f"/messages/{mid}/unassign", {"campaign": THEME})
    said = flashes(c.get(r.headers["Location"]).data)
    assert any(f"计入的是“{SPECIAL}”" in f and "未退回" in f for f in said), said
    assert counted() == [SPECIAL]
    r = c.post(f"/messages/{mid}/unassign", {"campaign": SPECIAL})
    said = flashes(c.get(r.headers["Location"]).data)
    assert any("已退回待核" in f for f in said), said
    assert counted() == []

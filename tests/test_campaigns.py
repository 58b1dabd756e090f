"""Several campaigns: the 2023 and the 2024 theme days of one county in one mailbox.

Each mail lands in its campaign's slot (campaign x unit x period); status, reminders and
the digest cover the campaign active on the date (or `--campaign`); the 2023 record exports
unchanged when 2024 arrives; an existing 2023 database keeps its data through the migration
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import openpyxl
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import select, text

from tests.mail_helpers import write_config
from tests.service_helpers import photo
from tracker.app import App
from tracker.cli import main
from tracker.db import alembic_config, make_engine, open_database
from tracker.models import Base, Message, Slot, Submission, Unit
from tracker.outgoing.reminders import plan_reminders
from tracker.roster import RosterError, load_roster, load_rosters
from tracker.slots import campaign_for, sync_roster

ROOT = Path(__file__).resolve().parent.parent
Y2023 = ROOT / "examples" / "roster.toml"
C2023 = "2023年政务公开主题日"
C2024 = "2024年政务公开主题日"


def roster_2024(tmp_path: Path) -> Path:
    """Next year's file: the same units a year later, due on the 20th."""
    text = Y2023.read_text("utf-8")
    text = text.replace(C2023, C2024).replace('"2023-', '"2024-')
    text = text.replace("deadline_day = 25", 'deadline_day = 20\nkeywords = ["2024"]')
    path = tmp_path / "roster-2024.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_for(tmp_path: Path, *files: Path) -> Path:
    path = write_config(tmp_path, smtp_port=1)
    text = path.read_text("utf-8")
    listed = ", ".join(f'"{f}"' for f in files)
    text = re.sub(r'^file = ".*"$', f"files = [{listed}]", text, flags=re.M)
    path.write_text(text, encoding="utf-8")
    return path


def mail(subject: str, day: str, seed: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "someone@qq.com"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = f"{day} 10:00:00 +0800"
    msg["Message-ID"] = f"<{seed}@example.com>"
    msg.set_content("我局开展了政务公开主题日活动，现报送活动图片。")
    msg.add_attachment(photo(seed), maintype="image", subtype="jpeg", filename="活动.jpg")
    return msg.as_bytes()


def deliver(tmp_path: Path, *raws: bytes) -> None:
    """Into the Maildir, arrived (file time) when the mail's Date says."""
    new = tmp_path / "Maildir" / "new"
    for i, raw in enumerate(raws):
        path = new / f"{datetime.now().timestamp()}.{i}.{len(list(new.iterdir()))}"
        path.write_bytes(raw)
        sent = parsedate_to_datetime(message_from_bytes(raw)["Date"]).timestamp()
        os.utime(path, (sent, sent))


def poll(config: Path) -> None:
    app = App.from_path(config)
    try:
        app.recorder().poll_once(app.source())
    finally:
        app.close()


def submissions(config: Path) -> dict[str, tuple[str, str, str, date]]:
    """subject -> (campaign, unit, period, due) of the slot each message counts for."""
    app = App.from_path(config)
    try:
        with app.db.session() as s:
            rows = s.execute(
                select(Message.subject, Slot.campaign, Unit.name, Slot.period, Slot.due)
                .join(Submission, Submission.message_id == Message.id)
                .join(Slot, Slot.id == Submission.slot_id)
                .join(Unit, Unit.id == Slot.unit_id)
            ).all()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
    finally:
        app.close()


def cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_two_campaigns_in_one_mailbox(tmp_path: Path) -> None:
    y2024 = roster_2024(tmp_path)
    config = config_for(tmp_path, Y2023, y2024)
    deliver(
        tmp_path,
        mail("县林业局5月政务公开主题日活动", "Thu, 18 May 2023", 1),
        mail("县林业局5月政务公开主题日活动", "Sat, 18 May 2024", 2),
        mail("2024年县卫健局6月主题日活动", "Fri, 21 Jun 2024", 3),
    )
    poll(config)
    subs = submissions(config)
    assert len(subs) == 2  # the subjects of the two forestry mails are the same
    assert subs["县林业局5月政务公开主题日活动"][0] in (C2023, C2024)
    app = App.from_path(config)
    with app.db.session() as s:
        rows = s.execute(
            select(Message.sent_at, Slot.campaign, Slot.period, Slot.due)
            .join(Submission, Submission.message_id == Message.id)
            .join(Slot, Slot.id == Submission.slot_id)
            .order_by(Message.id)
        ).all()
        # one unit, one address book: the unit is there once
        assert s.scalar(select(Unit.id).where(Unit.name == "县林业局").limit(2)) is not None
        assert len(s.scalars(select(Unit).where(Unit.name == "县林业局")).all()) == 1
        assert len(s.scalars(select(Slot).where(Slot.campaign == C2023)).all()) == 47
        assert len(s.scalars(select(Slot).where(Slot.campaign == C2024)).all()) == 47
    app.close()
    assert [(c, p, d) for _, c, p, d in rows] == [
        (C2023, "2023-05", date(2023, 5, 25)),
        (C2024, "2024-05", date(2024, 5, 20)),
        (C2024, "2024-06", date(2024, 6, 20)),
    ]

    # the receipt of the 2023 report names the 2023 campaign, even beside the 2024 one
    from tracker.outgoing.receipts import receipt_context

    app = App.from_path(config)
    try:
        with app.db.session() as s:
            first = s.scalars(select(Message).order_by(Message.id)).first()
            assert first is not None
            ctx = receipt_context(s, first, app.config, app.roster.campaign)
            assert ctx["campaign_name"] == C2023
    finally:
        app.close()

    # status on a 2024 date covers 2024 only; --campaign picks one; rows carry `campaign`
    rows_2024 = json.loads(cli(config, "status", "--json", "--as-of", "2024-06-21"))
    assert {r["campaign"] for r in rows_2024} == {C2024}
    assert len(rows_2024) == 47
    states = {(r["unit"], r["period"]): r["state"] for r in rows_2024}
    assert states["县林业局", "2024-05"] == "received"
    assert states["县卫健局", "2024-06"] == "late"  # due the 20th in 2024
    rows_2023 = json.loads(
        cli(config, "status", "--json", "--as-of", "2024-06-21", "--campaign", C2023)
    )
    assert {r["campaign"] for r in rows_2023} == {C2023}
    assert {(r["unit"], r["period"]): r["state"] for r in rows_2023}[
        "县林业局", "2023-05"
    ] == "received"
    bad = CliRunner().invoke(main, ["--config", str(config), "status", "--campaign", "2022年"])
    assert bad.exit_code == 2 and "not in the roster" in bad.output

    # reminders and the digest cover the active campaign
    app = App.from_path(config)
    try:
        with app.db.session() as s:
            planned = plan_reminders(s, app.roster, app.config, date(2024, 6, 21))
            assert planned and {p.period[:4] for p in planned} == {"2024"}
            assert {p.campaign for p in planned} == {C2024}
            assert plan_reminders(s, app.roster, app.config, date(2024, 6, 21), [C2023]) == []
    finally:
        app.close()
    out = tmp_path / "digest.html"
    cli(config, "digest", "--dry-run", "--as-of", "2024-06-21", "--out", str(out))
    page = out.read_text("utf-8")
    assert C2024 in page and C2023 not in page


def test_a_mail_that_fits_no_campaign_or_two_goes_to_review(tmp_path: Path) -> None:
    roster = load_rosters([Y2023, roster_2024(tmp_path)])
    assert campaign_for(roster, "县林业局", "2023-05") == (C2023, "")
    assert campaign_for(roster, "县林业局", "2024-07")[0] == C2024  # a moved event, by year
    none, why = campaign_for(roster, "县林业局", "2025-05")
    assert none is None and "不属于任何一项活动" in why
    # two campaigns the same year: the keywords decide, else review
    other = tmp_path / "other.toml"
    other.write_text(
        '[campaign]\nname = "2024年政务公开专项"\nkeywords = ["专项"]\n'
        '[[unit]]\nname = "县林业局"\nmonths = ["2024-05"]\n',
        encoding="utf-8",
    )
    both = load_rosters([roster_2024(tmp_path), other])
    assert campaign_for(both, "县林业局", "2024-05", "2024年主题日活动") == (C2024, "")
    assert campaign_for(both, "县林业局", "2024-05", "政务公开专项材料")[0] == "2024年政务公开专项"
    none, why = campaign_for(both, "县林业局", "2024-05", "活动图片")
    assert none is None and "同时属于几项活动" in why

    config = config_for(tmp_path, roster_2024(tmp_path), other)
    deliver(tmp_path, mail("县林业局5月活动图片", "Sat, 18 May 2024", 7))
    poll(config)
    app = App.from_path(config)
    with app.db.session() as s:
        msg = s.scalars(select(Message)).one()
        assert msg.decision == "review"
        assert any("同时属于几项活动" in r for r in msg.reasons)
        assert s.scalars(select(Submission)).all() == []
    app.close()


def test_the_files_of_one_office_must_agree(tmp_path: Path) -> None:
    y2024 = roster_2024(tmp_path)
    with pytest.raises(RosterError, match="already the campaign of"):
        load_rosters([Y2023, Y2023])
    moved = tmp_path / "moved.toml"
    moved.write_text(y2024.read_text("utf-8").replace('"湘潭县"', '"韶山市"'), "utf-8")
    with pytest.raises(RosterError, match="different jurisdictions"):
        load_rosters([Y2023, moved])
    township = tmp_path / "kind.toml"
    township.write_text(
        '[campaign]\nname = "x"\n[[unit]]\nname = "县林业局"\nkind = "township"\n'
        'months = ["2024-05"]\n',
        encoding="utf-8",
    )
    with pytest.raises(RosterError, match="kind"):
        load_rosters([Y2023, township])


def _cells(path: Path) -> list[list[object]]:
    book = openpyxl.load_workbook(path)
    return [list(row) for ws in book.worksheets for row in ws.iter_rows(values_only=True)]


def test_the_2023_record_exports_unchanged_when_2024_arrives(tmp_path: Path) -> None:
    single = write_config(tmp_path, smtp_port=1)
    deliver(
        tmp_path,
        mail("县林业局5月政务公开主题日活动", "Thu, 18 May 2023", 11),
        mail("石潭镇6月主题日活动", "Tue, 27 Jun 2023", 12),
    )
    poll(single)
    before = tmp_path / "before.xlsx"
    cli(single, "export", "--year", "2023", "--as-of", "2024-01-31", "--out", str(before))

    both = config_for(tmp_path, Y2023, roster_2024(tmp_path))
    deliver(tmp_path, mail("县林业局5月政务公开主题日活动", "Sat, 18 May 2024", 13))
    poll(both)
    after = tmp_path / "after.xlsx"
    cli(both, "export", "--year", "2023", "--as-of", "2024-01-31", "--out", str(after))
    assert _cells(after) == _cells(before)
    only = tmp_path / "only.xlsx"
    cli(both, "export", "--campaign", C2023, "--as-of", "2024-01-31", "--out", str(only))
    assert _cells(only) == _cells(before)


OLD_HEAD = "0005_address_trust"


def test_an_existing_2023_database_keeps_its_data(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), OLD_HEAD)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO unit (id, name, kind, central, aliases, active) "
                "VALUES (1, '县林业局', 'department', false, '[]', true)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO slot (id, unit_id, period, due, scheduled, excused, note) VALUES "
                "(7, 1, '2023-05', '2023-05-25', true, false, ''),"
                "(8, 1, '2023-09', '2023-09-25', false, true, '活动调整')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO message (id, raw_sha256, raw_path, raw_size, source, uidvalidity, "
                "uid, from_addr, from_name, subject, received_at, recorded_at, kind, decision, "
                "confidence, reasons, decided_by, headers) VALUES (3, 'ab', 'raw/ab.eml', 10, "
                "'maildir:/x', 1, 5, 'lyj@example.com', '', '县林业局5月主题日', "
                "'2023-05-18 10:00:00+08', '2023-05-18 10:00:05+08', 'report', 'matched', "
                "0.9, '[]', 'auto', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO submission (id, message_id, slot_id, created_at) "
                "VALUES (1, 3, 7, '2023-05-18 10:00:05+08')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO outbox (id, key, kind, recipients, subject, mime, state, attempts, "
                "next_attempt_at, created_at, slot_id) VALUES (1, 'reminder:8:before:7', "
                "'reminder', '[]', 's', :mime, 'sent', 1, '2023-09-18 01:00:00', "
                "'2023-09-18 01:00:00', 8)"
            ),
            {"mime": b"x"},
        )
        if conn.dialect.name == "postgresql":  # rows given their ids: move the sequences on
            for table in ("unit", "slot", "message", "submission", "outbox"):
                conn.execute(text(f"SELECT setval('{table}_id_seq', 100)"))
    engine.dispose()
    db = open_database(database_url)  # upgrades to the head
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, period, due, excused, note, campaign FROM slot ORDER BY id")
            ).all()
            assert [(r[0], r[1], str(r[2]), bool(r[3]), r[4], r[5]) for r in rows] == [
                (7, "2023-05", "2023-05-25", False, "", ""),
                (8, "2023-09", "2023-09-25", True, "活动调整", ""),
            ]
            assert conn.execute(text("SELECT slot_id FROM submission")).scalar() == 7
            assert conn.execute(text("SELECT slot_id FROM outbox")).scalar() == 8
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], diff
        # the 2023 roster adopts the old slots; next year's file adds its own
        roster = load_rosters([Y2023, roster_2024(tmp_path)])
        with db.session() as s:
            sync_roster(s, roster)
        with db.session() as s:
            old = {x.id: x for x in s.scalars(select(Slot).where(Slot.id.in_([7, 8])))}
            assert (old[7].campaign, old[7].period, old[7].due) == (
                C2023,
                "2023-05",
                date(2023, 5, 25),
            )
            assert (old[8].campaign, old[8].excused, old[8].note) == (C2023, True, "活动调整")
            forestry = s.scalars(
                select(Slot).join(Unit).where(Unit.name == "县林业局").order_by(Slot.period)
            ).all()
            assert [(x.campaign, x.period) for x in forestry] == [
                (C2023, "2023-05"),
                (C2023, "2023-09"),
                (C2024, "2024-05"),
            ]
            assert s.scalar(select(Submission.slot_id)) == 7
    finally:
        db.dispose()


def test_a_one_file_config_still_works_and_check_config_counts_campaigns(tmp_path: Path) -> None:
    config = config_for(tmp_path, Y2023, roster_2024(tmp_path))
    from tracker.check import check_roster
    from tracker.config import load_config

    step = check_roster(load_config(config))
    assert step.ok and "2 campaigns" in step.detail and "2023-04 to 2024-12" in step.detail
    assert load_roster(Y2023).campaign_keys() is None

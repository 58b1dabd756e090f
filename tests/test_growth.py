"""Commands stay linear and stream their output as the data grows: `messages --json` in
pages (every message once, in id order, across page boundaries), `status --json` slot by
slot (the same document as before), and slot states from plain columns."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import insert, select

from tracker.app import App
from tracker.cli import main
from tracker.cli.main import MESSAGES_PAGE
from tracker.config import load_config
from tracker.models import Message, MessageUnit, Slot, Submission
from tracker.slots import slot_states

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"


def _config(tmp_path: Path, url: str) -> Path:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[mailbox]
type = "maildir"
path = "{tmp_path}/Maildir"
[database]
url = "{url}"
[storage]
dir = "{tmp_path}/data"
[roster]
file = "{ROSTER}"
""",
        encoding="utf-8",
    )
    return path


def _rows(config: Path, count: int) -> None:
    """`count` matched reports as rows, spread over the slots; every 7th in review."""
    app = App(load_config(config))
    now = datetime(2023, 12, 1, tzinfo=UTC)
    with app.db.session() as s:
        slots = s.execute(select(Slot.id, Slot.unit_id, Slot.period).order_by(Slot.id)).all()
        messages, links, subs = [], [], []
        for i in range(1, count + 1):
            slot_id, unit_id, period = slots[i % len(slots)]
            messages.append(
                dict(
                    id=i,
                    raw_sha256=hashlib.sha256(f"g{i}".encode()).hexdigest(),
                    raw_path=f"raw/{i}.eml",
                    raw_size=1000,
                    source="maildir:test",
                    uid=i,
                    from_addr=f"s{i}@example.com",
                    subject=f"第{i}份报送",
                    received_at=datetime(int(period[:4]), int(period[5:]), 10, tzinfo=UTC),
                    recorded_at=now,
                    kind="report",
                    decision="review" if i % 7 == 0 else "matched",
                    period=period,
                    confidence=0.9,
                    reasons=[],
                    headers={},
                    marked_at=now,
                )
            )
            links.append(dict(message_id=i, unit_id=unit_id))
            subs.append(dict(message_id=i, slot_id=slot_id, created_at=now))
        s.execute(insert(Message), messages)
        s.execute(insert(MessageUnit), links)
        s.execute(insert(Submission), subs)
    app.close()


def test_messages_json_streams_every_message_once_across_pages(
    tmp_path: Path, database_url: str
) -> None:
    config = _config(tmp_path, database_url)
    count = 2 * MESSAGES_PAGE + 7
    _rows(config, count)
    result = CliRunner().invoke(main, ["--config", str(config), "messages", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == list(range(1, count + 1))
    assert json.loads(lines[-1])["units"]  # each page loads its units
    review = CliRunner().invoke(
        main, ["--config", str(config), "messages", "--json", "--decision", "review"]
    )
    assert [json.loads(x)["id"] for x in review.output.splitlines()] == list(range(7, count + 1, 7))


def test_status_json_is_the_same_document_written_slot_by_slot(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3")
    _rows(config, 60)
    args = ["--config", str(config), "status", "--json", "--as-of", "2023-12-31"]
    out = CliRunner().invoke(main, args).output
    rows = json.loads(out)
    assert out == json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    assert len(rows) == 47 and {r["state"] for r in rows} >= {"received", "missing"}
    empty = CliRunner().invoke(main, [*args[:-2], "--period", "2031-01"]).output
    assert empty == "[]\n"


def test_slot_states_count_only_matched_mail_received_by_the_date(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3")
    _rows(config, 120)
    app = App(load_config(config))
    with app.db.session() as s:
        states = slot_states(s, as_of=date(2023, 12, 31), tz=app.config.timezone)
        matched = {
            (sid, mid)
            for sid, mid in s.execute(
                select(Submission.slot_id, Submission.message_id)
                .join(Message, Message.id == Submission.message_id)
                .where(Message.decision == "matched")
            )
        }
        early = slot_states(s, as_of=date(2023, 1, 1), tz=app.config.timezone)
    app.close()
    counted = {(r.slot_id, sub.message_id) for r in states for sub in r.submissions}
    assert counted == matched
    assert all(not r.submissions for r in early)  # nothing had arrived by then


def test_slots_waiting_on_review_are_found_by_unit_not_by_reading_every_slot_per_message(
    tmp_path: Path,
) -> None:
    """The workbook's 有邮件待核实: each message in review is set against its own units'
    slots. Reading every slot for every waiting message was 180 million reads for a
    province's year (72,000 slots, 2,500 messages in review)."""
    from tracker.review_hold import waiting_messages

    config = _config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3")
    _rows(config, 300)  # every 7th in review: 42 waiting
    app = App(load_config(config))

    class Counted(list):  # type: ignore[type-arg]
        reads = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            for item in super().__iter__():
                Counted.reads += 1
                yield item

    with app.db.session() as s:
        slots = list(s.scalars(select(Slot)))
        got = waiting_messages(s, Counted(slots))
        # the same answer as the plain reading: every slot against every waiting message
        waiting = s.execute(
            select(Message.id, Message.period, Message.received_at, MessageUnit.unit_id)
            .join(MessageUnit, MessageUnit.message_id == Message.id)
            .where(Message.decision == "review")
        ).all()
        plain: dict[int, list[int]] = {}
        for mid, period, received_at, unit_id in waiting:
            month = received_at.astimezone(UTC).strftime("%Y-%m")
            for slot in slots:
                if slot.unit_id == unit_id and (period == slot.period or slot.period <= month):
                    plain.setdefault(slot.id, []).append(mid)
    app.close()
    assert len(waiting) == 42 and got and got == {k: sorted(v) for k, v in plain.items()}
    assert Counted.reads <= len(slots)  # each slot read once, not once per waiting message

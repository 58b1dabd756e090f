"""Migration 0007_reply_threads on a database with data, on SQLite and PostgreSQL: every row
is kept, and mail sent before the upgrade gets its Message-ID out of its stored MIME."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from tracker.db import alembic_config, current_revision, head_revision, make_engine, open_database
from tracker.models import Message, Outbox

MIME = (
    b"From: xtxgov@126.com\r\nTo: hkz@example.com\r\nSubject: =?utf-8?b?5bey5pS25Yiw?=\r\n"
    b"Message-ID: <170000.1.ri@126.com>\r\n\r\nbody\r\n"
)


def test_it_keeps_the_data_and_fills_the_sent_message_ids(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    now = datetime(2023, 5, 20, 8, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO message (raw_sha256, raw_path, raw_size, source, uidvalidity, uid,"
                " message_id, from_addr, from_name, subject, received_at, recorded_at, kind,"
                " decision, confidence, reasons, decided_by, headers) VALUES ('ab', 'raw/ab.eml',"
                " 10, 'maildir:x', 1, 7, '<r@163.com>', 'hkz@example.com', '', '河口镇5月活动',"
                " :now, :now, 'report', 'matched', 0.9, '[]', 'auto', '{}')"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO unit (name, kind, central, aliases, active) VALUES"
                " ('河口镇', 'township', false, '[]', true)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO slot (unit_id, period, due, scheduled, excused, note) VALUES"
                " (1, '2023-05', '2023-05-25', true, false, '')"
            )
        )
        conn.execute(
            sa.text("INSERT INTO submission (message_id, slot_id, created_at) VALUES (1, 1, :now)"),
            {"now": now},
        )
        for key, mime in (("receipt:1", MIME), ("old:no-id", b"Subject: x\r\n\r\nbody")):
            conn.execute(
                sa.text(
                    "INSERT INTO outbox (key, kind, recipients, subject, mime, state, attempts,"
                    " next_attempt_at, created_at, related_message_id) VALUES (:key, 'receipt',"
                    " '[\"hkz@example.com\"]', '已收到', :mime, 'sent', 1, :now, :now, 1)"
                ),
                {"key": key, "mime": mime, "now": now},
            )
    engine.dispose()

    db = open_database(database_url)  # migrates to the head
    assert current_revision(db.engine) == head_revision()
    with db.session() as s:
        msg = s.scalars(sa.select(Message)).one()
        assert (msg.subject, msg.decision, msg.reply_to_outbox_id, msg.original_id) == (
            "河口镇5月活动", "matched", None, None
        )  # fmt: skip
        rows = {r.key: r for r in s.scalars(sa.select(Outbox))}
        assert rows["receipt:1"].message_id == "<170000.1.ri@126.com>"
        assert rows["receipt:1"].mime == MIME and rows["receipt:1"].related_message_id == msg.id
        assert rows["old:no-id"].message_id is None
        assert len(msg.submissions) == 1  # nothing cascaded away
    db.dispose()

"""Migration 0002_evidence keeps existing messages and attachments; they read as "not
assessed" and fall back to what the stored attachment rows say, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from tracker.db import alembic_config, make_engine, open_database
from tracker.evidence import completeness_by_message


def test_it_keeps_old_rows_and_assesses_them_from_their_attachments(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    now = datetime(2023, 5, 12, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO message (id, raw_sha256, raw_path, raw_size, source, uidvalidity,"
                " uid, from_addr, from_name, subject, received_at, recorded_at, kind, decision,"
                " confidence, reasons, decided_by, headers) VALUES (1, 'a', 'raw/a.eml', 1,"
                " 'maildir:x', 1, 1, 'lyj@example.com', '', '县林业局5月', :now, :now,"
                " 'report', 'matched', 0.9, '[]', 'auto', '{}')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO attachment (message_id, kind, filename, safe_name, content_type,"
                " size, is_image, width, height) VALUES"
                " (1, 'file', '现场.jpg', '现场.jpg', 'image/jpeg', 300000, :t, 1200, 800),"
                " (1, 'file', 'logo.png', 'logo.png', 'image/png', 3000, :t, 200, 60),"
                " (1, 'file', '信息.docx', '信息.docx', 'application/msword', 20000, :f, NULL, NULL)"
            ),
            {"t": True, "f": False},
        )
    engine.dispose()
    db = open_database(database_url)
    try:
        with db.session() as s:
            row = s.execute(text("SELECT subject, photos, writeup FROM message")).one()
            assert tuple(row) == ("县林业局5月", None, None)
            assert s.execute(text("SELECT count(*) FROM attachment")).scalar() == 3
            held = completeness_by_message(s, [1])[1]
            assert (held.complete, held.photos, held.writeup) == (True, 1, "信息.docx")
    finally:
        db.dispose()

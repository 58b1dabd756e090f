"""Reused photos are found by index (tracker.photo_index), on SQLite and PostgreSQL: a
photo 4 bits away from one counted among thousands is found, the lookup reads a handful
of candidates (not every hash), SQLite's plan searches the band index instead of scanning,
and migration 0008_photo_bands fills the index for photos recorded before it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, insert, select

from tracker.db import alembic_config, current_revision, head_revision, make_engine, open_database
from tracker.evidence import photo_flags
from tracker.models import Attachment, Message, PhotoBand, Slot, Submission, Unit
from tracker.photo_index import BANDS, bands, candidate_ids, index_photos

NOW = datetime(2023, 6, 20, 2, tzinfo=UTC)
PHOTOS = 3000


def _message(s: sa.orm.Session, n: int, unit: Unit, period: str) -> Message:
    msg = Message(
        raw_sha256=f"{n:064x}",
        raw_path=f"raw/{n}.eml",
        source="maildir:test",
        uid=n,
        from_addr="a@example.com",
        subject=f"{unit.name}{period}",
        received_at=NOW,
        recorded_at=NOW,
        kind="report",
        decision="matched",
        period=period,
        confidence=0.9,
    )
    s.add(msg)
    s.flush()
    slot = Slot(unit_id=unit.id, period=period, due=date(2023, int(period[5:]), 25))
    s.add(slot)
    s.flush()
    s.add(Submission(message_id=msg.id, slot_id=slot.id, created_at=NOW))
    return msg


def _flip(value: int, bits: list[int]) -> int:
    for b in bits:
        value ^= 1 << b
    return value


def test_it_finds_a_near_photo_among_thousands_by_index(database_url: str) -> None:
    rng = random.Random(7)
    hashes = [rng.getrandbits(64) for _ in range(PHOTOS)]
    target = hashes[1234]
    # 4 bits off, one in each of four bands: only the fifth band still agrees
    near = _flip(target, [BANDS[0][0], BANDS[1][0] + 3, BANDS[2][0] + 5, BANDS[3][0] + 1])
    assert (near ^ target).bit_count() == 4
    db = open_database(database_url)
    try:
        with db.session() as s:
            lyj = Unit(name="县林业局", kind="department")
            mzj = Unit(name="县民政局", kind="department")
            s.add_all([lyj, mzj])
            s.flush()
            old = _message(s, 1, lyj, "2023-05")
            s.execute(
                insert(Attachment),
                [
                    {"message_id": old.id, "filename": f"{i}.jpg", "photo": True,
                     "phash": f"{h:016x}", "is_image": True}
                    for i, h in enumerate(hashes)
                ],
            )  # fmt: skip
            index_photos(s, list(s.scalars(select(Attachment))))
            assert s.scalar(select(sa.func.count()).select_from(PhotoBand)) == PHOTOS * 5
            new = _message(s, 2, mzj, "2023-06")
            s.add(Attachment(message_id=new.id, filename="现场.jpg", photo=True,
                             phash=f"{near:016x}", is_image=True))  # fmt: skip
            s.flush()

            found = candidate_ids(s, [near])
            assert len(found) < 20, len(found)  # a handful, not 3000
            by_id = {i: h for i, h in s.execute(select(Attachment.id, Attachment.phash))}
            assert f"{target:016x}" in {by_id[i] for i in found}

            statements: list[tuple[str, object]] = []

            def seen(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
                statements.append((statement, params))

            event.listen(db.engine, "before_cursor_execute", seen)
            try:
                reuse, _ = photo_flags(s, new)
            finally:
                event.remove(db.engine, "before_cursor_execute", seen)
            assert len(reuse) == 1 and reuse[0].startswith("与县林业局2023年5月报送的照片相同")
            if db.engine.dialect.name == "sqlite":
                ((query, params),) = [q for q in statements if "photo_band" in q[0]]
                raw = s.connection().connection.driver_connection
                assert raw is not None
                rows = raw.execute("EXPLAIN QUERY PLAN " + query, params).fetchall()
                plan = "\n".join(str(r[-1]) for r in rows)
                assert "photo_band" in plan and "SCAN photo_band" not in plan, plan
                assert "SCAN attachment" not in plan, plan
            # a photo 5 bits away is not a reuse
            far = _flip(near, [BANDS[4][0]])
            s.scalars(
                select(Attachment).where(Attachment.message_id == new.id)
            ).one().phash = f"{far:016x}"
            s.flush()
            assert photo_flags(s, new)[0] == []
    finally:
        db.dispose()


def test_migration_fills_the_band_index_from_stored_hashes(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007_reply_threads")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO message (raw_sha256, raw_path, raw_size, source, uidvalidity, uid,"
                " from_addr, from_name, subject, received_at, recorded_at, kind, decision,"
                " confidence, reasons, decided_by, headers, new_sender) VALUES ('ab',"
                " 'raw/ab.eml', 10, 'maildir:x', 1, 7, 'a@example.com', '', '5月活动', :now,"
                " :now, 'report', 'matched', 0.9, '[]', 'auto', '{}', false)"
            ),
            {"now": NOW},
        )
        for name, photo, phash in (
            ("a.jpg", True, "f0e1d2c3b4a59687"),
            ("logo.png", False, None),
            ("b.jpg", True, "0000000000000001"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO attachment (message_id, kind, filename, safe_name, content_type,"
                    " is_image, photo, phash) VALUES (1, 'file', :n, :n, 'image/jpeg', true,"
                    " :photo, :phash)"
                ),
                {"n": name, "photo": photo, "phash": phash},
            )
    engine.dispose()
    db = open_database(database_url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.session() as s:
            rows = s.execute(
                select(Attachment.filename, PhotoBand.band, PhotoBand.value)
                .join(PhotoBand, PhotoBand.attachment_id == Attachment.id)
                .order_by(Attachment.id, PhotoBand.band)
            ).all()
            assert [tuple(r) for r in rows] == [
                *(("a.jpg", b, v) for b, v in bands(0xF0E1D2C3B4A59687)),
                *(("b.jpg", b, v) for b, v in bands(1)),
            ]
            assert s.scalar(select(sa.func.count()).select_from(Attachment)) == 3
    finally:
        db.dispose()


def test_bands_cover_all_64_bits() -> None:
    assert sum(w for _, w in BANDS) == 64
    value = random.Random(1).getrandbits(64)
    rebuilt = 0
    for (shift, _), (_, v) in zip(BANDS, bands(value), strict=True):
        rebuilt |= v << shift
    assert rebuilt == value

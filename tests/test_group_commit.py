"""The recorder writes a group of mails in one transaction, each mail in a savepoint of its
own: one commit per group instead of one per mail, and still one mail's failure undoes
that mail alone."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from intake.mailbox import FetchedMail, ImapSettings, ImapSource
from tests.dovecot import DovecotMailbox, DovecotServer
from tests.test_pipeline import NOW, make_recorder, report, source_for
from tracker import staff
from tracker.db import open_database
from tracker.models import Checkpoint, Message
from tracker.recording import RecordingFailed


def subjects(recorder_db: object) -> list[tuple[str, str]]:
    with recorder_db.session() as s:  # type: ignore[attr-defined]
        return [(m.subject, m.decision) for m in s.scalars(select(Message).order_by(Message.id))]


def test_a_group_of_mails_is_committed_once(dovecot_server: DovecotServer, tmp_path: Path) -> None:
    box = dovecot_server.new_mailbox()
    for i in range(8):
        box.append(report(i))
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    recorder.batch_size = 8  # every mail is ready at once: one group
    commits: list[int] = []

    def count(conn: Connection) -> None:  # a transaction that wrote (reads begin none)
        if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            commits.append(1)

    event.listen(recorder.db.engine, "commit", count)

    result = recorder.poll_once(source_for(box))

    assert result.new == 8 and result.marked == 8
    # the group, the marks: not one commit per mail
    assert 1 <= len(commits) <= 3, commits
    assert len(subjects(recorder.db)) == 8


def test_one_mail_that_fails_in_full_is_kept_raw_and_its_group_recorded(
    dovecot_server: DovecotServer, tmp_path: Path
) -> None:
    box = dovecot_server.new_mailbox()
    for i in range(5):
        box.append(report(i))
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    recorder.batch_size = 5

    def hook(session: Session, msg: Message) -> None:
        if "第2份" in msg.subject:
            raise ValueError("a bug met by this one mail")

    recorder.on_recorded = hook
    result = recorder.poll_once(source_for(box))

    assert result.new == 5 and result.marked == 5
    rows = subjects(recorder.db)
    assert len(rows) == 5
    # the four others in full; the one kept raw for review, its full record undone with
    # its savepoint (no second row, no units)
    assert sorted(s for s, _ in rows if s) == sorted(s for s, _ in rows if s and "第2份" not in s)
    assert len([s for s, _ in rows if s]) == 4
    with recorder.db.session() as s:
        bare = s.scalars(select(Message).where(Message.subject == "")).all()
        assert len(bare) == 1 and bare[0].decision == "review" and bare[0].units == []
        assert "a bug met by this one mail" in (bare[0].parse_error or "")


def test_a_database_failure_keeps_the_mails_before_it_and_the_next_poll_takes_the_rest(
    dovecot_server: DovecotServer, tmp_path: Path
) -> None:
    box = dovecot_server.new_mailbox()
    for i in range(6):
        box.append(report(i))
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    recorder.batch_size = 6
    failing = True

    def hook(session: Session, msg: Message) -> None:
        if failing and "第3份" in msg.subject:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    recorder.on_recorded = hook
    with pytest.raises(RecordingFailed, match="disk I/O error"):
        recorder.poll_once(source_for(box))
    first = subjects(recorder.db)
    assert len(first) == 3  # the three before it, committed with their group
    with recorder.db.session() as s:
        cp = s.scalar(select(Checkpoint))
        assert cp is not None
        recorded_uids = sorted(s.scalars(select(Message.uid)))
        assert cp.last_uid == max(recorded_uids)  # the checkpoint stays before the failure

    failing = False
    again = recorder.poll_once(source_for(box))
    assert again.new == 3
    rows = subjects(recorder.db)
    assert len(rows) == len({s for s, _ in rows}) == 6  # nothing lost, nothing doubled


def last_uid(recorder_db: object) -> int:
    with recorder_db.session() as s:  # type: ignore[attr-defined]
        cp = s.scalar(select(Checkpoint))
        return cp.last_uid if cp is not None else 0


def test_the_same_mail_twice_in_one_group_moves_the_checkpoint_past_both(
    dovecot: DovecotMailbox, database_url: str, tmp_path: Path
) -> None:
    # the second copy is found a duplicate only when its row collides with the first's
    # (its group's transaction had not committed when it was prepared)
    twice = report(1)
    for raw in (report(0), twice, twice):
        dovecot.append(raw)
    recorder = make_recorder(database_url, tmp_path / "store", workers=0)
    recorder.batch_size = 3

    first = recorder.poll_once(source_for(dovecot))

    assert (first.fetched, first.new, first.duplicates) == (3, 2, 1)
    assert last_uid(recorder.db) == max(dovecot.uids())
    again = recorder.poll_once(source_for(dovecot))
    assert again.fetched == 0  # not fetched again, pass after pass


def test_a_rescan_that_finds_only_recorded_mail_moves_the_checkpoint(
    dovecot: DovecotMailbox, tmp_path: Path
) -> None:
    for i in range(3):
        dovecot.append(report(i))
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    assert recorder.poll_once(source_for(dovecot)).new == 3

    dovecot.change_uidvalidity()
    rescan = recorder.poll_once(source_for(dovecot))

    assert rescan.uidvalidity_changed
    assert (rescan.fetched, rescan.new, rescan.duplicates) == (3, 0, 3)
    assert last_uid(recorder.db) == max(dovecot.uids())
    assert recorder.poll_once(source_for(dovecot)).fetched == 0  # the whole box not again


def test_a_mail_another_poller_committed_mid_group_is_a_duplicate_and_the_group_goes_on(
    dovecot: DovecotMailbox, database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("on SQLite the group holds the write lock: no one else commits meanwhile")
    for i in range(3):
        dovecot.append(report(i))
    with source_for(dovecot) as source:  # the bytes as the pollers fetch them
        fetched = source.fetch_since(0, batch=10, max_bytes=1 << 30)
        last = next(m for m in list(fetched) if m.uid == 3)
    recorder = make_recorder(database_url, tmp_path / "store", workers=0)
    recorder.batch_size = 3  # all three prepared (none a duplicate yet), then one group
    other = make_recorder(database_url, tmp_path / "store", workers=0)

    def hook(session: Session, msg: Message) -> None:
        if "第0份" in msg.subject:
            # while this group's transaction is open, a poller of another mailbox records
            # the last mail and commits (READ COMMITTED: this transaction then sees it)
            fetched = FetchedMail(uid=7, raw=last.raw, internal_date=None)
            assert other.record(fetched, "imap://other", 1, other.unit_refs()) is not None

    recorder.on_recorded = hook
    result = recorder.poll_once(source_for(dovecot))

    assert (result.new, result.duplicates, result.marked) == (2, 1, 2)
    with recorder.db.session() as s:
        rows = s.execute(select(Message.source, Message.uid).order_by(Message.id)).all()
        cp = s.scalar(select(Checkpoint).where(Checkpoint.source == result.source))
        assert cp is not None and cp.last_uid == max(dovecot.uids())
    assert sorted(uid for source, uid in rows if source == result.source) == [1, 2]
    assert [uid for source, uid in rows if source == "imap://other"] == [7]
    assert dovecot.flags(1) >= {"$Recorded"} and dovecot.flags(2) >= {"$Recorded"}


def test_a_group_whose_commit_fails_is_neither_recorded_nor_marked_and_is_taken_again(
    dovecot: DovecotMailbox, tmp_path: Path
) -> None:
    for i in range(6):
        dovecot.append(report(i))
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    recorder.batch_size = 3  # two groups of three, the first marked before the second
    fail = {"commit": False}

    def hook(session: Session, msg: Message) -> None:
        if "第4份" in msg.subject:
            fail["commit"] = True  # the second group's commit will fail

    def commit(conn: Connection) -> None:
        if fail["commit"]:
            fail["commit"] = False
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(recorder.db.engine, "commit", commit)
    recorder.on_recorded = hook
    with pytest.raises(RecordingFailed, match="disk I/O error"):
        recorder.poll_once(source_for(dovecot))

    uids = dovecot.uids()
    with recorder.db.session() as s:
        assert sorted(s.scalars(select(Message.uid))) == uids[:3]
        assert last_uid(recorder.db) == uids[2]
    flagged = [u for u in uids if "$Recorded" in dovecot.flags(u)]
    assert flagged == uids[:3]  # nothing of the failed group is marked

    recorder.on_recorded = None
    again = recorder.poll_once(source_for(dovecot))
    assert (again.new, again.marked) == (3, 3)
    rows = subjects(recorder.db)
    assert len(rows) == len({s for s, _ in rows}) == 6
    assert all("$Recorded" in dovecot.flags(u) for u in uids)


def test_a_staff_write_while_a_group_holds_the_write_lock_waits_and_is_kept(
    dovecot: DovecotMailbox, tmp_path: Path
) -> None:
    # SQLite: the group's BEGIN IMMEDIATE holds the write lock; the board's write (a
    # deferred transaction that reads, then writes) waits its busy timeout, not fails
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    dovecot.append(report(0))
    recorder = make_recorder(url, tmp_path / "store", workers=0)
    assert recorder.poll_once(source_for(dovecot)).new == 1
    with recorder.db.session() as s:
        first = s.scalar(select(Message.id))
    assert first is not None
    for i in range(1, 4):
        dovecot.append(report(i))
    recorder.batch_size = 3
    board = open_database(url)
    outcome: dict[str, object] = {}

    def staff_ignores() -> None:
        try:
            with board.session() as s:
                staff.ignore(s, recorder.roster, first, NOW, "测试", by="board")
            outcome["done"] = time.monotonic()
        except Exception as exc:  # pragma: no cover - what the test is about
            outcome["error"] = exc

    writer = threading.Thread(target=staff_ignores)

    def hook(session: Session, msg: Message) -> None:
        if "第1份" in msg.subject:
            writer.start()
            time.sleep(1.0)  # the group's transaction stays open meanwhile
            outcome["group"] = time.monotonic()

    recorder.on_recorded = hook
    result = recorder.poll_once(source_for(dovecot))
    writer.join(timeout=60)

    assert "error" not in outcome, outcome
    assert result.new == 3
    assert outcome["done"] > outcome["group"]  # type: ignore[operator]
    with recorder.db.session() as s:
        assert s.get(Message, first).decision == "ignored"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Message)) == 4


def test_a_stop_mid_group_keeps_and_marks_the_mails_before_it_and_the_next_poll_the_rest(
    dovecot: DovecotMailbox, tmp_path: Path
) -> None:
    for i in range(5):
        dovecot.append(report(i))
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    recorder.batch_size = 5
    stop = {"now": False}
    recorder.should_stop = lambda: stop["now"]

    def hook(session: Session, msg: Message) -> None:
        if "第1份" in msg.subject:
            stop["now"] = True  # the service is told to stop while this mail is recorded

    recorder.on_recorded = hook
    first = recorder.poll_once(source_for(dovecot))

    uids = dovecot.uids()
    assert first.interrupted
    assert (first.new, first.marked) == (2, 2)
    assert [u for u in uids if "$Recorded" in dovecot.flags(u)] == uids[:2]
    assert last_uid(recorder.db) == uids[1]

    stop["now"] = False
    recorder.on_recorded = None
    again = recorder.poll_once(source_for(dovecot))
    assert (again.new, again.marked) == (3, 3)
    rows = subjects(recorder.db)
    assert len(rows) == len({s for s, _ in rows}) == 5


def test_a_database_error_that_ends_the_whole_transaction_marks_nothing_of_the_group(
    dovecot: DovecotMailbox, tmp_path: Path
) -> None:
    # SQLite ends the whole transaction, not only the savepoint, on some errors (a full
    # disk or database, an I/O error, no memory): the mails before it in the group are
    # gone with it, and must not be moved away as if recorded
    first = report(0)
    for raw in (first, first, *(report(i) for i in range(1, 7))):
        dovecot.append(raw)
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=0)
    recorder.batch_size = 4  # two groups; the first leaves 3 to mark (one is a duplicate)
    moving = ImapSource(
        ImapSettings(
            host=dovecot.host,
            port=dovecot.port,
            security="none",
            username=dovecot.user,
            password=dovecot.password,
            after_record="move",
        )
    )

    def hook(session: Session, msg: Message) -> None:
        if "第5份" in msg.subject:  # the database is full from here on
            pages = session.execute(text("PRAGMA page_count")).scalar_one()
            session.execute(text(f"PRAGMA max_page_count = {int(pages)}"))
            msg.parse_error = "x" * 200_000  # needs pages the database no longer has

    recorder.on_recorded = hook
    with pytest.raises(RecordingFailed, match="database or disk is full"):
        recorder.poll_once(moving)
    recorder.db.engine.dispose()  # room again (the limit was the connection's)

    with recorder.db.session() as s:
        recorded = set(s.scalars(select(Message.uid)))
    moved = set(range(1, 9)) - set(dovecot.uids())
    assert moved <= recorded, f"moved away but not recorded: {sorted(moved - recorded)}"

    recorder.on_recorded = None
    recorder.poll_once(moving)
    rows = subjects(recorder.db)
    assert len(rows) == len({s for s, _ in rows}) == 7  # nothing lost, nothing doubled

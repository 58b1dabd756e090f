"""The recorder writes a group of mails in one transaction, each mail in a savepoint of its
own: one commit per group instead of one per mail, and still one mail's failure undoes
that mail alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.dovecot import DovecotMailbox, DovecotServer
from tests.test_pipeline import make_recorder, report, source_for
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

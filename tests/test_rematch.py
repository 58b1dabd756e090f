"""`rematch --all` streams: it walks the messages by id in pages, writes each page in one
transaction and prints its changes as they are written; a run killed halfway and started
again ends exactly as one run does; each mail is analysed under the intake's budget, so a
hostile mail kept raw for review is left as it was in one line and the run goes on."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, insert, select, text, update

from tests.test_bodytext import _nested_without_boundaries
from tracker.app import App
from tracker.cli import main
from tracker.config import load_config
from tracker.models import Message
from tracker.samples import write_maildir
from tracker.staff import RematchChange, RematchEvent, RematchSkipped, rematch_stream

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"
BIN = Path(sys.executable).parent / "report-intake"
NOW = datetime(2023, 12, 1, tzinfo=UTC)
TAMPERED = ["tampered"]


def _config(tmp_path: Path, database_url: str, mailbox_extra: str = "") -> Path:
    shutil.copyfile(ROSTER, tmp_path / "roster.toml")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[office]\naddresses = ["xtxgov@126.com"]\n'
        f'[mailbox]\ntype = "maildir"\npath = "Maildir"\n{mailbox_extra}'
        f'[database]\nurl = "{database_url}"\n'
        f'[storage]\ndir = "data"\n[roster]\nfile = "roster.toml"\n',
        encoding="utf-8",
    )
    return config


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _polled(tmp_path: Path, database_url: str, copies: int) -> Path:
    """The sample mails polled, plus `copies` more rows pointing at their raw copies; then
    every message's match undone by hand (other / review, no unit), so that rematch has
    something to redo for each."""
    write_maildir(tmp_path / "Maildir")
    config = _config(tmp_path, database_url)
    code, _, err = _run("--config", str(config), "poll", "--once")
    assert code == 0, err
    app = App(load_config(config))
    try:
        with app.db.session() as s:
            real = s.execute(select(Message.raw_path, Message.received_at).order_by(Message.id))
            sources = real.all()
            first = (s.scalar(select(Message.id).order_by(Message.id.desc()).limit(1)) or 0) + 1
            s.execute(
                insert(Message),
                [
                    dict(
                        id=first + k,
                        raw_sha256=f"{first + k:064x}",
                        raw_path=sources[k % len(sources)][0],
                        raw_size=1000,
                        source="maildir:copies",
                        uid=first + k,
                        from_addr="copy@example.com",
                        subject="copy",
                        received_at=sources[k % len(sources)][1],
                        recorded_at=NOW,
                        kind="other",
                        decision="review",
                        confidence=0.0,
                        reasons=TAMPERED,
                        headers={},
                    )
                    for k in range(copies)
                ],
            )
            s.execute(text("DELETE FROM submission"))
            s.execute(text("DELETE FROM message_unit"))
            s.execute(
                update(Message).values(
                    kind="other", decision="review", period=None, reasons=TAMPERED
                )
            )
    finally:
        app.close()
    return config


def _state(database_url: str) -> list[tuple[Any, ...]]:
    """Everything rematch decides, message by message."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            messages = conn.execute(
                text(
                    "SELECT id, kind, decision, period, confidence, reasons, photos, writeup "
                    "FROM message ORDER BY id"
                )
            ).all()
            units = conn.execute(
                text("SELECT message_id, unit_id FROM message_unit ORDER BY message_id, unit_id")
            ).all()
            subs = conn.execute(
                text("SELECT message_id, slot_id FROM submission ORDER BY message_id, slot_id")
            ).all()
    finally:
        engine.dispose()
    return (
        [tuple(r) for r in messages] + [("unit", *r) for r in units] + [("sub", *r) for r in subs]
    )


def _rematched(database_url: str) -> int:
    """How many messages a rematch has written (committed), seen from another connection."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT reasons FROM message")).all()
    finally:
        engine.dispose()
    return sum(1 for (reasons,) in rows if reasons not in (TAMPERED, '["tampered"]'))


def test_rematch_walks_pages_writes_each_and_tells_as_it_goes(
    tmp_path: Path, database_url: str
) -> None:
    config = _polled(tmp_path, database_url, copies=100)
    app = App(load_config(config))
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        statements.append(statement)

    told: list[tuple[RematchEvent, int]] = []
    event.listen(app.db.engine, "before_cursor_execute", seen)
    try:
        total = len(_state(database_url))
        changed, kept = rematch_stream(
            app.db,
            app.roster,
            app.recorder().unit_refs(),
            app.config.storage_dir,
            NOW,
            own_addresses=app.config.own_addresses,
            page=25,
            report=lambda e: told.append((e, _rematched(database_url))),
        )
    finally:
        event.remove(app.db.engine, "before_cursor_execute", seen)
        app.close()
    assert total > 100
    assert kept == 0 and changed == len(told) and changed > 90
    # the first page's changes are told once that page is written, and only that page
    first_event, written = told[0]
    assert isinstance(first_event, RematchChange)
    assert written == 25, written
    assert {w for _, w in told} == {25, 50, 75, 100, 114}
    assert [e.message_id for e, _ in told] == sorted(e.message_id for e, _ in told)
    assert _rematched(database_url) == 114
    # every read of the message table is a page (LIMIT) or names its messages
    reads = [q for q in statements if re.search(r"\bFROM message\b(?!_)", q)]
    assert reads
    unbounded = [
        q
        for q in reads
        if "LIMIT" not in q
        and not re.search(r"\bmessage\.id (IN|=)", q)
        and not re.search(r"\bmessage\.(message_id|raw_sha256) (IN|=)", q)
    ]
    assert not unbounded, unbounded[:3]
    # each photo check looks up its candidates in the band index (tracker.photo_index):
    # no read of photo hashes other than a message's own or the index's candidates
    hashes = [q for q in statements if "attachment.phash" in q]
    assert any("photo_band" in q for q in hashes)
    assert not [
        q
        for q in hashes
        if "photo_band" not in q and not re.search(r"\battachment\.message_id (IN|=)", q)
    ]


def test_a_rematch_killed_halfway_and_run_again_ends_as_one_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    config = _polled(tmp_path, url, copies=486)  # 500 messages: pages of 200
    shutil.copyfile(tmp_path / "db.sqlite3", tmp_path / "reference.sqlite3")
    reference_config = tmp_path / "reference.toml"
    reference_config.write_text(
        config.read_text(encoding="utf-8").replace("db.sqlite3", "reference.sqlite3"),
        encoding="utf-8",
    )
    before = _state(url)

    argv = [str(BIN), "--config", str(config), "rematch", "--all"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the first page is written
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert re.match(rb"#\d+: ", line), line
    halfway = _rematched(url)
    assert halfway % 200 == 0 and 0 < halfway < 500, halfway  # whole pages, not all
    assert _state(url) != before

    again = subprocess.run(argv, capture_output=True, text=True, check=True)
    one_run = subprocess.run(
        [str(BIN), "--config", str(reference_config), "rematch", "--all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert _state(url) == _state(f"sqlite:///{tmp_path}/reference.sqlite3")
    assert _rematched(url) == 500
    # the second run found the first pages done: it changed only the rest
    done = int(again.stdout.splitlines()[-1].split()[0])
    full = int(one_run.stdout.splitlines()[-1].split()[0])
    assert done < full and full > 400
    assert re.fullmatch(r"\d+ changed, 0 staff decision\(s\) kept", again.stdout.splitlines()[-1])


def test_a_mail_past_the_analysis_budget_is_left_as_it_was_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    write_maildir(tmp_path / "Maildir")
    # analysing it takes seconds of CPU (each nested part re-parsed whole); the budget is 1 s
    hostile = tmp_path / "Maildir" / "new" / "0000000001.M1.hostile"
    hostile.write_bytes(_nested_without_boundaries(mb=10, depth=40))
    os.utime(hostile, (1_600_000_000, 1_600_000_000))
    config = _config(tmp_path, url, mailbox_extra="analysis_seconds = 1\n")
    code, out, err = _run("--config", str(config), "poll", "--once")
    assert code == 0, err
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            hostile_id, reasons = conn.execute(
                text("SELECT id, reasons FROM message WHERE parse_error LIKE '%budget%'")
            ).one()
            assert "超时" in json.loads(reasons)[0]  # the poll kept it raw for review
            last = conn.execute(text("SELECT max(id) FROM message")).scalar_one()
            assert hostile_id < last
            conn.execute(
                text("UPDATE message SET kind='other', decision='review', reasons='[]' "
                     "WHERE id != :h"),
                {"h": hostile_id},
            )  # fmt: skip
            conn.execute(text("DELETE FROM message_unit"))
            conn.execute(text("DELETE FROM submission"))
            kept_state = conn.execute(
                text("SELECT kind, decision, reasons, parse_error FROM message WHERE id = :h"),
                {"h": hostile_id},
            ).one()
    finally:
        engine.dispose()

    code, out, err = _run("--config", str(config), "rematch", "--all")
    assert code == 0, err
    lines = out.splitlines()
    assert f"#{hostile_id}: left as it was: analysis ran past its budget of 1 s" in lines
    changed = [int(m.group(1)) for m in map(re.compile(r"#(\d+): .* -> ").match, lines) if m]
    assert any(i > hostile_id for i in changed)  # it went on after the hostile mail
    assert lines[-1] == f"{len(changed)} changed, 0 staff decision(s) kept"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            after = conn.execute(
                text("SELECT kind, decision, reasons, parse_error FROM message WHERE id = :h"),
                {"h": hostile_id},
            ).one()
    finally:
        engine.dispose()
    assert tuple(after) == tuple(kept_state)


def test_rematch_of_named_messages_in_one_session_is_bounded_too(tmp_path: Path) -> None:
    """The staff layer's one-transaction form (for the board's single message)."""
    from tracker.staff import rematch

    url = f"sqlite:///{tmp_path}/db.sqlite3"
    write_maildir(tmp_path / "Maildir")
    hostile = tmp_path / "Maildir" / "new" / "0000000001.M1.hostile"
    hostile.write_bytes(_nested_without_boundaries(mb=10, depth=40))
    config = _config(tmp_path, url, mailbox_extra="analysis_seconds = 1\n")
    assert _run("--config", str(config), "poll", "--once")[0] == 0
    app = App(load_config(config))
    try:
        with app.db.session() as s:
            ids = list(s.scalars(select(Message.id).order_by(Message.id)))
            hostile_id = s.scalar(select(Message.id).where(Message.parse_error.like("%budget%")))
            gone_id, gone_path = s.execute(
                select(Message.id, Message.raw_path).where(Message.id != hostile_id).limit(1)
            ).one()
            (app.config.storage_dir / gone_path).unlink()  # a raw copy lost on disk
            events, kept = rematch(
                s,
                app.roster,
                app.recorder().unit_refs(),
                app.config.storage_dir,
                NOW,
                ids=ids,
                own_addresses=app.config.own_addresses,
                seconds=1,
            )
    finally:
        app.close()
    assert kept == 0
    skipped = [e for e in events if isinstance(e, RematchSkipped)]
    assert sorted(e.message_id for e in skipped) == sorted([hostile_id, gone_id])
    reasons = {e.message_id: e.reason for e in skipped}
    assert reasons[hostile_id] == "analysis ran past its budget of 1 s"
    assert reasons[gone_id].startswith("FileNotFoundError") and "\n" not in reasons[gone_id]


@pytest.mark.parametrize("args", [["rematch", "999999"], ["rematch", "1", "999999"]])
def test_an_unknown_message_is_one_line(tmp_path: Path, args: list[str]) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    write_maildir(tmp_path / "Maildir")
    config = _config(tmp_path, url)
    assert _run("--config", str(config), "poll", "--once")[0] == 0
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 1
    assert result.stderr == "report-intake: error: message #999999: no such message\n"

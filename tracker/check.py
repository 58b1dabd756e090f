"""`report-intake check-config`: every step an installation needs, one line each.

config -> roster -> database -> storage -> mailbox (IMAP: connect, TLS, LOGIN, ID,
SELECT) -> SMTP (connect, TLS, EHLO, AUTH). Each step is a :class:`Step` whose line reads
``"<name> ok: <detail>"`` or ``"<name> FAILED: <reason>"``; no step raises, and no line
carries a password.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from intake.mailbox import ImapSource, MailboxError, MaildirSource
from tracker import gazetteer
from tracker.app import make_source
from tracker.config import Config, ConfigError, find_config_path, load_config
from tracker.db import DatabaseError, current_revision, head_revision, open_database, safe_url
from tracker.outgoing.mailer import SmtpMailer, TransportError
from tracker.roster import RosterError, load_rosters


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # ok, but something IT should change

    @property
    def line(self) -> str:
        state = "ok" if self.ok and not self.warning else "WARNING" if self.ok else "FAILED"
        return f"{self.name} {state}: {self.detail}"


class _CountingImap(ImapSource):
    """An ImapSource that can tell how many messages the selected folder holds."""

    def message_count(self) -> int | None:
        client = self._require().client
        _, data = client.response("EXISTS")
        value = data[-1] if data else None
        if isinstance(value, bytes) and value.strip().isdigit():
            return int(value)
        return None


def check_all(config_path: str | os.PathLike[str] | None) -> Iterator[Step]:
    try:
        path = find_config_path(config_path)
        config = load_config(path)
    except ConfigError as exc:
        yield Step("config", False, str(exc))
        return
    yield Step("config", True, str(Path(path).resolve()))
    for warning in config.warnings:
        yield Step("config", True, warning, warning=True)
    secrets = [config.mailbox.password, config.smtp.password]
    for step in (
        check_roster(config),
        *roster_warnings(config),
        check_database(config),
        check_storage(config),
        check_mailbox(config),
        check_smtp(config),
    ):
        yield Step(step.name, step.ok, _scrub(step.detail, secrets), step.warning)


def check_roster(config: Config) -> Step:
    try:
        roster = load_rosters(config.roster_files or (config.roster_file,))
    except RosterError as exc:
        return Step("roster", False, str(exc))
    periods = roster.periods()
    span = f", months {periods[0]} to {periods[-1]}" if periods else ""
    files = ", ".join(str(f) for f in (config.roster_files or (config.roster_file,)))
    several = f", {len(roster.parts)} campaigns" if len(roster.parts) > 1 else ""
    return Step("roster", True, f"{len(roster.units)} units{span}{several} ({files})")


def roster_warnings(config: Config) -> list[Step]:
    """What a roster that loads may still lack for the matcher to tell the office's own
    bodies from others': the jurisdiction (a bad one is refused on load) and the parent."""
    try:
        roster = load_rosters(config.roster_files or (config.roster_file,))
    except RosterError:
        return []  # check_roster said it
    camp, out = roster.campaign, []
    if not camp.jurisdiction:
        out.append(
            "[campaign] jurisdiction is not set: set the office's place (e.g. X县, X市, X区)"
        )
    if not camp.parent:
        out.append(
            "[campaign] parent is not set: the city above (e.g. X市) is how its bureaus are "
            "told from the office's own"
        )
    out.extend(gazetteer.problems(camp.jurisdiction, camp.parent))
    return [Step("roster", True, w, warning=True) for w in out]


def check_database(config: Config) -> Step:
    try:
        where = safe_url(config.database_url)
        db = open_database(config.database_url, migrate=False)
    except DatabaseError as exc:
        return Step("database", False, str(exc))
    except Exception as exc:  # a malformed URL: one line, never the URL (it may hold a password)
        return Step("database", False, f"cannot open the database: {type(exc).__name__}")
    try:
        current = current_revision(db.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Step("database", False, f"database {where}: {reason}")
    finally:
        db.dispose()
    head = head_revision()
    if current == head:
        state = f"schema {current}, up to date"
    elif current is None:
        state = "empty: the schema is created on the first start"
    else:
        state = f"schema {current}: upgraded to {head} on the next start"
    return Step("database", True, f"{where} ({state})")


def check_storage(config: Config) -> Step:
    d = config.storage_dir
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Step("storage", False, f"{d}: {exc.strerror or exc}")
    return Step("storage", True, f"{d} is writable")


def check_mailbox(config: Config) -> Step:
    source = make_source(config)
    if isinstance(source, MaildirSource):
        try:
            source.open()
        except MailboxError as exc:
            return Step("maildir", False, str(exc))
        finally:
            source.close()
        files = sum(
            1 for sub in ("new", "cur") for p in (source.path / sub).iterdir() if p.is_file()
        )
        return Step("maildir", True, f"{source.path} has {files} messages")
    assert isinstance(source, ImapSource)
    s = source.settings
    imap = _CountingImap(s)
    try:
        imap.open()
        count = imap.message_count()
        id_note = ", ID sent" if imap.id_sent else ""
    except MailboxError as exc:
        return Step("imap", False, str(exc))
    except Exception as exc:  # never a traceback from a check
        return Step("imap", False, f"{s.host}:{s.port}: {type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            imap.close()
    held = f"{s.folder} has {count} messages" if count is not None else f"{s.folder} selected"
    return Step("imap", True, f"{s.username} at {s.host}:{s.port} ({s.security}{id_note}), {held}")


def check_smtp(config: Config) -> Step:
    c = config.smtp
    if not c.configured:
        return Step("smtp", True, "not configured: no receipts, reminders or digest are sent")
    mailer = SmtpMailer(c)
    try:
        # the same connect/EHLO/TLS/AUTH the outbox uses, without sending anything
        conn = mailer._connect()
    except TransportError as exc:
        return Step("smtp", False, exc.message)
    except Exception as exc:
        return Step("smtp", False, f"{c.host}:{c.port}: {type(exc).__name__}: {exc}")
    with contextlib.suppress(Exception):
        conn.quit()
    login = f"logged in as {c.username}" if c.username else "no login"
    return Step("smtp", True, f"{c.sender} via {c.host}:{c.port} ({c.security}, {login})")


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return " ".join(text.split())

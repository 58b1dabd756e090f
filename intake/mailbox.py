"""Sources of raw mail: an IMAP folder (NetEase-aware) or a local Maildir.

Both hand out :class:`FetchedMail` in ascending UID order above a watermark, never delete
anything, and mark what the caller has recorded (flag, move, or nothing). Every failure a
caller should see becomes a :class:`MailboxError` with one readable English line that never
contains the password.
"""

from __future__ import annotations

import contextlib
import errno
import imaplib
import json
import logging
import os
import re
import socket
import ssl
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, TypeVar

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import UnexpectedCommandStatusError
from imap_tools.mailbox import BaseMailBox
from imap_tools.utils import encode_folder

log = logging.getLogger(__name__)

# RFC 2971 ID; imaplib refuses commands it does not know.
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))

RECORDED_KEYWORD = "$Recorded"
SECURITY_MODES = ("ssl", "starttls", "none")
AFTER_RECORD_MODES = ("flag", "move", "none")
_CHUNK = 500  # UIDs per STORE/MOVE command
# Bodies are fetched a few at a time within a batch (at most this many bytes per FETCH, at
# least one mail), so the first mails are being analysed while the rest still arrive.
FETCH_BYTES = 4 * 1024 * 1024


class MailboxError(Exception):
    """A mailbox could not be reached or used; ``str()`` is one readable line."""


@dataclass(frozen=True)
class FetchedMail:
    uid: int  # IMAP UID; for maildir a stable per-folder sequence
    raw: bytes  # b"" when too_large
    internal_date: datetime | None
    size: int | None = None  # bytes as the server reports them (RFC822.SIZE / file size)
    too_large: bool = False  # above max_bytes: not downloaded, raw is b""


class MailSource(Protocol):
    key: str  # "imap://user@host:port/INBOX" or "maildir:/abs/path"

    def open(self) -> None: ...

    def close(self) -> None: ...

    def uidvalidity(self) -> int: ...

    def fetch_since(
        self, last_uid: int, *, batch: int, max_bytes: int
    ) -> Iterator[FetchedMail]: ...

    def mark_recorded(self, uids: Sequence[int]) -> None: ...


def _package_version() -> str:
    try:
        return metadata.version("report-intake")
    except metadata.PackageNotFoundError:
        return "0"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reply_text(result: object) -> str:
    """A server reply ('NO', [b'...']) as one line of text."""
    if isinstance(result, tuple) and len(result) == 2:
        typ, data = result
        parts = [str(typ)]
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, bytes):
                parts.append(item.decode("utf-8", "replace"))
            elif isinstance(item, tuple):
                parts.extend(x.decode("utf-8", "replace") for x in item if isinstance(x, bytes))
            elif item is not None:
                parts.append(str(item))
        return _one_line(" ".join(parts))
    return _one_line(str(result))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_INTERNALDATE = re.compile(
    rb'INTERNALDATE "\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"'
)
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def _parse_internaldate(text: bytes) -> datetime | None:
    m = _INTERNALDATE.search(text)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, tzh, tzm = m.groups()
    month = _MONTHS.get(mon.decode().capitalize())
    if month is None:
        return None
    offset = timedelta(hours=int(tzh), minutes=int(tzm))
    tz = timezone(offset if sign == b"+" else -offset)
    try:
        return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError:
        return None


def _uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(int(u)) for u in uids)


_T = TypeVar("_T")


# -- IMAP ------------------------------------------------------------------------------------


def _runs(
    uids: Sequence[int], meta: dict[int, tuple[int, datetime | None]], max_bytes: int
) -> Iterator[list[int]]:
    """`uids` in order, cut into runs of at most FETCH_BYTES of mail to fetch (a mail over
    `max_bytes` is not fetched and costs nothing; a run holds at least one mail)."""
    run: list[int] = []
    size = 0
    for uid in uids:
        cost = meta[uid][0] if meta[uid][0] <= max_bytes else 0
        if run and size + cost > FETCH_BYTES:
            yield run
            run, size = [], 0
        run.append(uid)
        size += cost
    if run:
        yield run


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str  # "ssl" | "starttls" | "none"
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    after_record: str = "flag"  # "flag" | "move" | "none"
    move_to: str = "Recorded"
    timeout: float = 30.0
    id_support_email: str = ""

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )
        if self.after_record not in AFTER_RECORD_MODES:
            raise ValueError(
                f"after_record must be one of {', '.join(AFTER_RECORD_MODES)}, not {self.after_record!r}"
            )


class ImapSource:
    """One IMAP folder. Opens lazily; after a connection error the next call reconnects."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.key = f"imap://{settings.username}@{settings.host}:{settings.port}/{settings.folder}"
        self._box: BaseMailBox | None = None
        self._uidvalidity: int | None = None
        self._keywords_allowed = True
        self.id_sent = False  # whether the last open() sent the ID command

    def __enter__(self) -> ImapSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ImapSource({self.key!r})"

    # -- errors ----------------------------------------------------------------------------
    @property
    def _who(self) -> str:
        return f"{self.settings.username}@{self.settings.host}:{self.settings.port}"

    def _error(self, what: str, detail: str) -> MailboxError:
        detail = _one_line(detail)
        if self.settings.password:
            detail = detail.replace(self.settings.password, "***")
        return MailboxError(f"imap {what} failed for {self._who}: {detail}")

    def _run(self, what: str, fn: Callable[[], _T]) -> _T:
        """Run one IMAP exchange; map every library/socket failure to MailboxError."""
        try:
            return fn()
        except MailboxError:
            raise
        except UnexpectedCommandStatusError as exc:
            raise self._error(what, _reply_text(exc.command_result)) from None
        except imaplib.IMAP4.abort as exc:
            self._drop()
            raise self._error(what, f"connection lost: {exc}") from None
        except imaplib.IMAP4.error as exc:
            raise self._error(what, f"server said: {exc}") from None
        except ssl.SSLError as exc:
            self._drop()
            raise self._error(what, f"TLS error: {exc.reason or exc}") from None
        except TimeoutError:
            self._drop()
            raise self._error(what, f"no answer within {self.settings.timeout:g}s") from None
        except OSError as exc:
            self._drop()
            raise self._error(what, f"connection lost: {exc.strerror or exc}") from None

    def _check(self, what: str, result: tuple[str, Any]) -> list[Any]:
        if result[0] != "OK":
            raise self._error(what, _reply_text(result))
        return list(result[1] or [])

    # -- connection ------------------------------------------------------------------------
    def _connect(self) -> BaseMailBox:
        s = self.settings
        try:
            if s.security == "ssl":
                return MailBox(
                    s.host, s.port, timeout=s.timeout, ssl_context=ssl.create_default_context()
                )
            if s.security == "starttls":
                return MailBoxStartTls(
                    s.host, s.port, timeout=s.timeout, ssl_context=ssl.create_default_context()
                )
            return MailBoxUnencrypted(s.host, s.port, timeout=s.timeout)
        except UnexpectedCommandStatusError as exc:
            raise self._error("STARTTLS", _reply_text(exc.command_result)) from None
        except ssl.SSLError as exc:
            raise self._error("TLS handshake", str(exc.reason or exc)) from None
        except TimeoutError:
            raise self._error("connection", f"no answer within {s.timeout:g}s") from None
        except socket.gaierror as exc:
            raise self._error("connection", f"unknown host ({exc.strerror or exc})") from None
        except OSError as exc:
            raise self._error("connection", exc.strerror or str(exc)) from None
        except imaplib.IMAP4.error as exc:  # e.g. no STARTTLS capability, bad greeting
            what = "STARTTLS" if s.security == "starttls" else "connection"
            raise self._error(what, str(exc)) from None

    def open(self) -> None:
        if self._box is not None:
            return
        box = self._connect()
        self._box = box
        try:
            self._login(box)
            self._send_id(box)
            self._select(box)
        except BaseException:
            self._drop()
            raise

    def _login(self, box: BaseMailBox) -> None:
        s = self.settings
        try:
            box.login(s.username, s.password, initial_folder=None)
        except UnexpectedCommandStatusError as exc:
            raise self._error("login", _reply_text(exc.command_result)) from None
        except imaplib.IMAP4.abort as exc:
            raise self._error("login", f"connection lost: {exc}") from None
        except imaplib.IMAP4.error as exc:  # BAD
            raise self._error("login", str(exc)) from None
        except OSError as exc:
            raise self._error("login", f"connection lost: {exc.strerror or exc}") from None
        # capabilities often grow after login; imaplib only knows the greeting's
        typ, data = self._run("capability", box.client.capability)
        if typ == "OK" and data and isinstance(data[-1], bytes):
            box.client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())

    def _send_id(self, box: BaseMailBox) -> None:
        """RFC 2971 ID, which NetEase requires before SELECT; only if the server lists it."""
        self.id_sent = False
        if "ID" not in box.client.capabilities:
            return
        fields = (
            ("name", "report-intake"),
            ("version", _package_version()),
            ("vendor", "report-intake"),
            ("support-email", self.settings.id_support_email),
        )
        arg = "(" + " ".join(f"{_quote(k)} {_quote(v)}" for k, v in fields) + ")"
        result = self._run("ID", lambda: box.client._simple_command("ID", arg))
        if result[0] == "OK":
            self.id_sent = True
        else:
            log.warning("%s refused the ID command: %s", self._who, _reply_text(result))

    def _select(self, box: BaseMailBox) -> None:
        folder = self.settings.folder
        self._run(f"select of folder {folder!r}", lambda: box.folder.set(folder))
        client = box.client
        _, data = client.response("UIDVALIDITY")
        value = data[0] if data else None
        if isinstance(value, bytes) and value.strip().isdigit():
            self._uidvalidity = int(value)
        else:
            status = self._run("status", lambda: box.folder.status(folder, ["UIDVALIDITY"]))
            self._uidvalidity = int(status["UIDVALIDITY"])
        _, perm = client.response("PERMANENTFLAGS")
        flags = perm[0] if perm else None
        if isinstance(flags, bytes):
            self._keywords_allowed = b"\\*" in flags or RECORDED_KEYWORD.encode() in flags

    def _drop(self) -> None:
        box, self._box = self._box, None
        if box is not None:
            with contextlib.suppress(Exception):
                box.client.shutdown()

    def close(self) -> None:
        box, self._box = self._box, None
        if box is None:
            return
        try:
            box.logout()
        except Exception:
            with contextlib.suppress(Exception):
                box.client.shutdown()

    def _require(self) -> BaseMailBox:
        if self._box is None:
            self.open()
        assert self._box is not None
        return self._box

    # -- the source ------------------------------------------------------------------------
    def uidvalidity(self) -> int:
        self._require()
        assert self._uidvalidity is not None
        return self._uidvalidity

    def fetch_since(self, last_uid: int, *, batch: int, max_bytes: int) -> Iterator[FetchedMail]:
        """Mail with UID > last_uid, ascending, in batches; \\Seen is not set by fetching."""
        box = self._require()
        client = box.client
        batch = max(1, batch)
        # NOOP lets the server take in mail delivered since SELECT (a long-lived session
        # does not see it otherwise).
        self._check("noop", self._run("noop", client.noop))
        # ASCII criteria only; "n:*" also matches the newest mail when it is below n.
        typ, data = self._run("search", lambda: client.uid("SEARCH", f"UID {last_uid + 1}:*"))
        self._check("search", (typ, data))
        found = data[0] if data and isinstance(data[0], bytes) else b""
        uids = sorted({int(x) for x in found.split() if x.isdigit() and int(x) > last_uid})
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            meta = self._fetch_meta(client, chunk)
            for run in _runs([u for u in chunk if u in meta], meta, max_bytes):
                wanted = [u for u in run if meta[u][0] <= max_bytes]
                bodies = self._fetch_bodies(client, wanted) if wanted else {}
                for uid in run:
                    size, date = meta[uid]
                    if size > max_bytes:
                        yield FetchedMail(
                            uid=uid, raw=b"", internal_date=date, size=size, too_large=True
                        )
                    elif uid in bodies:  # else expunged meanwhile
                        yield FetchedMail(uid=uid, raw=bodies[uid], internal_date=date, size=size)
                del bodies

    def _fetch_meta(
        self, client: imaplib.IMAP4, uids: Sequence[int]
    ) -> dict[int, tuple[int, datetime | None]]:
        result = self._run(
            "fetch", lambda: client.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE INTERNALDATE)")
        )
        meta: dict[int, tuple[int, datetime | None]] = {}
        for item in self._check("fetch", result):
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid_m, size_m = _UID.search(line), _SIZE.search(line)
            if uid_m and size_m:
                meta[int(uid_m.group(1))] = (int(size_m.group(1)), _parse_internaldate(line))
        return meta

    def _fetch_bodies(self, client: imaplib.IMAP4, uids: Sequence[int]) -> dict[int, bytes]:
        result = self._run(
            "fetch", lambda: client.uid("FETCH", _uid_set(uids), "(UID BODY.PEEK[])")
        )
        items = self._check("fetch", result)
        bodies: dict[int, bytes] = {}
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2 and b"BODY[]" in item[0]):
                continue
            uid_m = _UID.search(item[0])
            following = items[i + 1] if i + 1 < len(items) else None
            if uid_m is None and isinstance(following, bytes):
                uid_m = _UID.search(following)
            if uid_m is not None:
                bodies[int(uid_m.group(1))] = bytes(item[1])
        return bodies

    def mark_recorded(self, uids: Sequence[int]) -> None:
        mode = self.settings.after_record
        if mode == "none" or not uids:
            return
        box = self._require()
        ordered = sorted({int(u) for u in uids})
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            if mode == "move":
                self._move(box, chunk)
            else:
                self._flag(box, chunk)

    def _flag(self, box: BaseMailBox, uids: Sequence[int]) -> None:
        client = box.client
        if self._keywords_allowed:
            flags = f"(\\Seen {RECORDED_KEYWORD})"
            result = self._run(
                "store", lambda: client.uid("STORE", _uid_set(uids), "+FLAGS.SILENT", flags)
            )
            if result[0] == "OK":
                return
            log.warning(
                "%s refused the %s keyword (%s); marking \\Seen only",
                self._who,
                RECORDED_KEYWORD,
                _reply_text(result),
            )
            self._keywords_allowed = False
        result = self._run(
            "store", lambda: client.uid("STORE", _uid_set(uids), "+FLAGS.SILENT", "(\\Seen)")
        )
        self._check("store", result)

    def _move(self, box: BaseMailBox, uids: Sequence[int]) -> None:
        client = box.client
        target = self.settings.move_to
        self._ensure_folder(box, target)
        encoded = _quote_folder(target)
        if "MOVE" in client.capabilities:
            result = self._run(
                f"move to {target!r}", lambda: client.uid("MOVE", _uid_set(uids), encoded)
            )
            self._check(f"move to {target!r}", result)
            return
        # No MOVE: copy and flag the original; never delete or expunge.
        result = self._run(
            f"copy to {target!r}", lambda: client.uid("COPY", _uid_set(uids), encoded)
        )
        self._check(f"copy to {target!r}", result)
        self._flag(box, uids)

    def _ensure_folder(self, box: BaseMailBox, folder: str) -> None:
        encoded = _quote_folder(folder)
        result = self._run("list", lambda: box.client.list('""', encoded))
        if any(isinstance(x, bytes) for x in self._check("list", result)):
            return
        result = self._run(f"create of folder {folder!r}", lambda: box.client.create(encoded))
        if result[0] != "OK" and b"ALREADYEXISTS" not in b" ".join(
            x for x in result[1] if isinstance(x, bytes)
        ):
            raise self._error(f"create of folder {folder!r}", _reply_text(result))


def _quote_folder(folder: str) -> str:
    return encode_folder(folder).decode("ascii")


# -- Maildir ---------------------------------------------------------------------------------

SIDECAR = ".report-intake-uids"


class _SymlinkedMail(OSError):
    pass


def _read_mail_file(path: Path, max_bytes: int) -> tuple[bytes | None, int, datetime]:
    """(bytes or None when over `max_bytes`, size, delivery time) of one Maildir file,
    opened without following a symbolic link (O_NOFOLLOW) and measured on the open file."""
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _SymlinkedMail(str(path)) from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _SymlinkedMail(str(path))
        date = datetime.fromtimestamp(st.st_mtime, UTC)
        if st.st_size > max_bytes:
            return None, st.st_size, date
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        return None, len(raw), date
    return raw, len(raw), date


class MaildirSource:
    """A local Maildir (new/ and cur/), e.g. filled by fetchmail, with stable integer UIDs.

    UIDs live in a sidecar file in the Maildir that maps each message's maildir key (the
    file name up to ":") to an increasing integer; the UIDVALIDITY is chosen once and kept
    there. Marking moves new/ to cur/ and adds the S (seen) flag; nothing is ever deleted.
    """

    def __init__(self, path: str | os.PathLike[str], after_record: str = "flag") -> None:
        if after_record not in ("flag", "none"):
            raise ValueError(
                f"after_record for a Maildir must be 'flag' or 'none', not {after_record!r}"
            )
        self.path = Path(path).absolute()
        self.after_record = after_record
        self.key = f"maildir:{self.path}"
        self._state: dict[str, object] | None = None

    def __repr__(self) -> str:
        return f"MaildirSource({self.key!r})"

    def __enter__(self) -> MaildirSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _sidecar(self) -> Path:
        return self.path / SIDECAR

    def open(self) -> None:
        for sub in ("new", "cur", "tmp"):
            if not (self.path / sub).is_dir():
                raise MailboxError(f"maildir {self.path} is not a Maildir: {sub}/ is missing")
        self._state = self._load()

    def close(self) -> None:
        self._state = None

    def _load(self) -> dict[str, object]:
        try:
            text = self._sidecar.read_text(encoding="utf-8")
        except FileNotFoundError:
            state: dict[str, object] = {"uidvalidity": int(time.time()), "next_uid": 1, "uids": {}}
            self._save(state)
            return state
        except OSError as exc:
            raise MailboxError(
                f"maildir {self.path}: cannot read {SIDECAR}: {exc.strerror or exc}"
            ) from None
        try:
            state = json.loads(text)
            if not (
                isinstance(state, dict)
                and isinstance(state.get("uidvalidity"), int)
                and isinstance(state.get("next_uid"), int)
                and isinstance(state.get("uids"), dict)
            ):
                raise ValueError("unexpected structure")
        except ValueError as exc:
            raise MailboxError(
                f"maildir {self.path}: {SIDECAR} is damaged ({exc}); move it away to renumber"
            ) from None
        return state

    def _save(self, state: dict[str, object]) -> None:
        data = json.dumps(state, sort_keys=True, indent=0).encode()
        try:
            fd, tmp = tempfile.mkstemp(prefix=SIDECAR + ".", dir=self.path)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._sidecar)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise MailboxError(
                f"maildir {self.path}: cannot write {SIDECAR}: {exc.strerror or exc}"
            ) from None

    def _require(self) -> dict[str, object]:
        if self._state is None:
            self.open()
        assert self._state is not None
        return self._state

    def _scan(self) -> dict[str, Path]:
        """Maildir key -> current file, from new/ and cur/."""
        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.path / sub))
            except OSError as exc:
                raise MailboxError(
                    f"maildir {self.path}: cannot list {sub}/: {exc.strerror or exc}"
                ) from None
            for entry in entries:
                # a symbolic link is never a mail: following one could read any file
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                files[entry.name.split(":", 1)[0]] = Path(entry.path)
        return files

    def _numbered(self) -> dict[int, Path]:
        """UID -> file; new messages get the next UIDs, saved before they are handed out."""
        state = self._require()
        uids: dict[str, int] = state["uids"]  # type: ignore[assignment]
        files = self._scan()
        fresh = [k for k in files if k not in uids]
        gone = [k for k in uids if k not in files]
        if fresh or gone:

            def delivered(key: str) -> tuple[float, str]:
                try:
                    return (files[key].stat().st_mtime, key)
                except OSError:
                    return (0.0, key)

            next_uid: int = state["next_uid"]  # type: ignore[assignment]
            for key in sorted(fresh, key=delivered):
                uids[key] = next_uid
                next_uid += 1
            for key in gone:
                del uids[key]
            state["next_uid"] = next_uid
            self._save(state)
        return {uids[k]: p for k, p in files.items()}

    def uidvalidity(self) -> int:
        value = self._require()["uidvalidity"]
        assert isinstance(value, int)
        return value

    def fetch_since(self, last_uid: int, *, batch: int, max_bytes: int) -> Iterator[FetchedMail]:
        numbered = self._numbered()
        for uid in sorted(u for u in numbered if u > last_uid):
            path = numbered[uid]
            try:
                try:
                    raw, size, date = _read_mail_file(path, max_bytes)
                except FileNotFoundError:
                    # marked or removed by someone else meanwhile: look in the other subfolder
                    moved = self._scan().get(path.name.split(":", 1)[0])
                    if moved is None:
                        continue
                    raw, size, date = _read_mail_file(moved, max_bytes)
                if raw is None:
                    yield FetchedMail(
                        uid=uid, raw=b"", internal_date=date, size=size, too_large=True
                    )
                    continue
            except _SymlinkedMail:
                log.warning("maildir %s: %s is a symbolic link, not read", self.path, path.name)
                continue
            except OSError as exc:
                raise MailboxError(
                    f"maildir {self.path}: cannot read {path.name}: {exc.strerror or exc}"
                ) from None
            yield FetchedMail(uid=uid, raw=raw, internal_date=date, size=size)

    def mark_recorded(self, uids: Sequence[int]) -> None:
        if self.after_record == "none" or not uids:
            return
        state = self._require()
        by_uid = {v: k for k, v in state["uids"].items()}  # type: ignore[attr-defined]
        files = self._scan()
        for uid in uids:
            key = by_uid.get(int(uid))
            path = files.get(key) if key is not None else None
            if path is None:
                continue
            info = path.name.split(":", 1)[1] if ":" in path.name else ""
            flags = info[2:] if info.startswith("2,") else ""
            if path.parent.name == "cur" and "S" in flags:
                continue
            new_flags = "".join(sorted(set(flags) | {"S"}))
            target = self.path / "cur" / f"{key}:2,{new_flags}"
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise MailboxError(
                    f"maildir {self.path}: cannot mark {path.name}: {exc.strerror or exc}"
                ) from None

"""IMAP IDLE (RFC 2177): a second connection that waits for new mail and wakes the poller.

The watcher logs in like :class:`intake.mailbox.ImapSource` (it is one: ID command before
SELECT where the server lists ID), selects the folder and waits in IDLE. An
``* <n> EXISTS`` response (the folder grew) calls ``on_new_mail``; so does every fresh
connection, which covers mail that arrived while it was not listening. IDLE is re-issued every ``reissue_after`` seconds (RFC 2177 wants less
than 29 minutes). A lost connection is retried with an exponential, capped delay.

Where the server does not list IDLE (163 has been reported to refuse it), or answers the
IDLE command with NO/BAD, the watcher stops quietly: the caller's poll interval remains.
The watcher only wakes the poller; it never fetches or records anything itself.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import select
import threading
import time
from collections.abc import Callable

from imap_tools.errors import UnexpectedCommandStatusError
from imap_tools.idle import IdleManager

from intake.mailbox import ImapSettings, ImapSource, MailboxError

log = logging.getLogger(__name__)

REISSUE_AFTER = 25 * 60.0
RETRY_FIRST = 2.0
RETRY_MAX = 300.0


class IdleRefused(Exception):
    """The server does not do IDLE: poll instead."""


class _IdleConnection(ImapSource):
    """An ImapSource used only for its login/ID/SELECT and its socket."""

    def client(self) -> imaplib.IMAP4:
        return self._require().client

    def idle_manager(self) -> IdleManager:
        return IdleManager(self._require())


class IdleWatcher:
    """Runs in its own thread; ``stop()`` ends it within about ``tick`` seconds."""

    def __init__(
        self,
        settings: ImapSettings,
        on_new_mail: Callable[[], None],
        *,
        reissue_after: float = REISSUE_AFTER,
        tick: float = 0.5,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self.settings = settings
        self.on_new_mail = on_new_mail
        self.reissue_after = min(reissue_after, REISSUE_AFTER)
        self.tick = tick
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.supported: bool | None = None  # None until the server has answered
        self.connected = threading.Event()
        self.wakeups = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: _IdleConnection | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="imap-idle", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            conn = _IdleConnection(self.settings)
            self._conn = conn
            try:
                conn.open()
                if "IDLE" not in conn.client().capabilities:
                    raise IdleRefused("IDLE not in CAPABILITY")
                failures = 0
                self._listen(conn)
            except IdleRefused as exc:
                self.supported = False
                log.info("IMAP IDLE not available (%s): polling only", exc)
                return
            except (MailboxError, imaplib.IMAP4.error, OSError, ValueError) as exc:
                failures += 1
                text = str(exc) if isinstance(exc, MailboxError) else _describe(exc)
                self.last_error = text
                delay = min(self.retry_max, self.retry_first * 2 ** (failures - 1))
                # one line per outage; the poll job reports (and alerts on) the mailbox
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "IMAP IDLE connection lost (%s); reconnecting in %.0fs", text, delay)
                self._stop.wait(delay)
            finally:
                self.connected.clear()
                self._conn = None
                self._close(conn)

    # -- one connection --------------------------------------------------------------------
    def _listen(self, conn: _IdleConnection) -> None:
        manager = conn.idle_manager()
        client = conn.client()
        first = True
        while not self._stop.is_set():
            try:
                manager.start()
            except UnexpectedCommandStatusError as exc:
                raise IdleRefused(f"server answered {exc.command_result!r:.100}") from None
            self.supported = True
            self.connected.set()
            if first:  # mail may have come between the last poll and now
                self._wake("connected")
                first = False
            started = time.monotonic()
            while not self._stop.is_set() and time.monotonic() - started < self.reissue_after:
                readable, _, _ = select.select([client.sock], [], [], self.tick)
                if not readable:
                    continue
                line = client._get_line()  # raises IMAP4.abort on EOF
                if _is_news(line):
                    self._wake(line.decode("ascii", "replace"))
            self.connected.clear()
            _, responses = manager.stop()
            if any(_is_news(r) for r in responses if isinstance(r, bytes)):
                self._wake("while leaving IDLE")

    def _wake(self, why: str) -> None:
        self.wakeups += 1
        log.debug("IMAP IDLE: %s; waking the poller", why)
        try:
            self.on_new_mail()
        except Exception:
            log.exception("IMAP IDLE: waking the poller failed")

    @staticmethod
    def _close(conn: _IdleConnection) -> None:
        # after IDLE a polite LOGOUT may hang on a half-dead socket: just cut it
        box = conn._box
        conn._box = None
        if box is not None:
            with contextlib.suppress(Exception):
                box.client.shutdown()


def _is_news(line: bytes) -> bool:
    """``* <n> EXISTS``: the folder grew (flag changes, keep-alives and BYE are not news)."""
    words = line.strip().upper().split()
    return len(words) == 3 and words[0] == b"*" and words[1].isdigit() and words[2] == b"EXISTS"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]

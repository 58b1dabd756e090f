"""SMTP delivery: one message out, errors turned into a readable `TransportError`.

Security "ssl" is implicit TLS (SMTP_SSL, port 465: what 126.com and qq.com want),
"starttls" upgrades a plain connection (587), "none" is plain SMTP (tests, local relays).
A failure never escapes as a traceback and never carries the password: 5xx answers are
permanent (the message will not go through as it is), 4xx answers and connection
problems are temporary (try again later). Errors that say nothing about the message
(cannot connect, login refused) set `stop_batch`: the caller stops sending for now.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from types import TracebackType

from tracker.config import SmtpConfig


class TransportError(Exception):
    """Delivery failed. `permanent`: retrying the same message will not help."""

    def __init__(
        self,
        message: str,
        permanent: bool = False,
        *,
        stop_batch: bool = False,
        answered: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.stop_batch = stop_batch
        # the server answered with a refusal: it did not take the message
        self.answered = answered


class SmtpMailer:
    """Sends raw MIME bytes through the configured SMTP server.

    Used as a context manager it keeps one connection for a batch; otherwise each
    `send` opens and closes its own.
    """

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.ssl_context = ssl_context
        self._conn: smtplib.SMTP | None = None

    @property
    def sender(self) -> str:
        return self.config.sender

    # -- connection ---------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        where = f"SMTP {c.host}:{c.port}"
        if not c.host:
            raise TransportError("SMTP is not configured ([smtp] host)", True, stop_batch=True)
        conn: smtplib.SMTP | None = None
        try:
            if c.security == "ssl":
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            conn.ehlo()
            if c.security == "starttls":
                conn.starttls(context=self._context())
                conn.ehlo()
            if c.username:
                conn.login(c.username, c.password)
            return conn
        except smtplib.SMTPAuthenticationError as exc:
            _close(conn)
            raise TransportError(
                f"{where}: login as {c.username} refused ({exc.smtp_code} "
                f"{self._scrub(_text(exc.smtp_error))}); check the authorisation code (授权码)",
                False,
                stop_batch=True,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _close(conn)
            raise TransportError(
                f"{where}: {self._scrub(str(exc))}", False, stop_batch=True
            ) from None
        except ssl.SSLError as exc:
            _close(conn)
            raise TransportError(
                f"{where}: TLS failed ({exc.reason or exc.__class__.__name__}); "
                f"check [smtp] security and port",
                False,
                stop_batch=True,
            ) from None
        except smtplib.SMTPResponseException as exc:
            _close(conn)
            raise TransportError(
                f"{where}: server said {exc.smtp_code} {self._scrub(_text(exc.smtp_error))}",
                False,
                stop_batch=True,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            _close(conn)
            raise TransportError(
                f"{where}: cannot connect ({_oserror(exc)})", False, stop_batch=True
            ) from None

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                _close(conn)

    # -- sending ------------------------------------------------------------------------

    def send(
        self,
        mime_bytes: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        before_data: Callable[[], None] | None = None,
    ) -> None:
        """Send one message; raise `TransportError` when it did not go through.

        `before_data` runs after the server took MAIL FROM and every RCPT TO, right before
        the DATA command: until then the message provably has not been delivered.
        """
        if not recipients:
            raise TransportError("no recipients", True)
        conn = self._conn or self._connect()
        self._conn = conn
        if before_data is not None:
            data = conn.data

            def data_after_hook(msg: bytes | str) -> tuple[int, bytes]:
                before_data()
                return data(msg)

            setattr(conn, "data", data_after_hook)  # noqa: B010  (sendmail calls self.data)
        try:
            refused = conn.sendmail(sender, list(recipients), mime_bytes)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            detail = "; ".join(
                f"{rcpt}: {code} {self._scrub(_text(msg))}"
                for rcpt, (code, msg) in exc.recipients.items()
            )
            self._reset()
            raise TransportError(
                f"recipients refused: {detail}", all(500 <= c < 600 for c in codes), answered=True
            ) from None
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            self._reset(drop=code == 421 or code < 400)
            raise TransportError(
                f"server said {code} {self._scrub(_text(exc.smtp_error))}",
                500 <= code < 600,
                answered=400 <= code < 600,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._reset(drop=True)
            raise TransportError(f"connection lost while sending ({_oserror(exc)})") from None
        except BaseException:
            self._reset(drop=True)  # e.g. before_data failed: the session is mid-transaction
            raise
        finally:
            if before_data is not None:
                with contextlib.suppress(AttributeError):
                    del conn.data
        if refused:
            detail = "; ".join(
                f"{rcpt}: {code} {self._scrub(_text(msg))}" for rcpt, (code, msg) in refused.items()
            )
            # Some recipients got it; resending would double it for them. Record, do not retry.
            raise TransportError(f"partly delivered, refused: {detail}", True, answered=True)

    def _reset(self, drop: bool = False) -> None:
        conn = self._conn
        if conn is None:
            return
        if not drop:
            try:
                conn.rset()
                return
            except (smtplib.SMTPException, OSError):
                pass
        self._conn = None
        _close(conn)

    def _scrub(self, text: str) -> str:
        pw = self.config.password
        if pw and len(pw) >= 3:
            text = text.replace(pw, "***")
        return text


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(value.split())[:300]


def _oserror(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    with contextlib.suppress(OSError):
        conn.close()

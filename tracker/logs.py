"""Logging for the service: journald-friendly lines on stderr, secrets masked.

Under systemd (``$JOURNAL_STREAM`` names our stderr) each line starts with a syslog
priority prefix (``<6>`` info, ``<4>`` warning ...) that journald turns into the entry's
level, and carries no timestamp (the journal has one). On a terminal lines carry a time.
A filter on the handler replaces every configured secret (IMAP/SMTP passwords, i.e. the
授权码) with ``***`` in messages and tracebacks alike, whatever module logged them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import TextIO

MASK = "***"
MIN_SECRET = 4  # shorter "secrets" would mask ordinary words
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
QUIET_LIBRARIES = ("alembic", "apscheduler", "mailparser", "aiosmtpd")


class SecretFilter(logging.Filter):
    """Masks the given secrets in every record that passes the handler."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        found = {s for s in secrets if s and len(s) >= MIN_SECRET}
        self.secrets = sorted(found, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``; continuation lines (tracebacks) are indented."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prio = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        return f"<{prio}>" + text.replace("\n", "\n  ")


def journal_stream_is(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Whether `stream` is connected to the journal (``$JOURNAL_STREAM`` = device:inode)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    if ":" not in value:
        return False
    try:
        st = os.fstat(stream.fileno())
        dev, ino = (int(x) for x in value.split(":", 1))
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup_service_logging(
    level: str,
    secrets: Iterable[str] = (),
    *,
    verbose: bool = False,
    stream: TextIO | None = None,
    journal: bool | None = None,
) -> logging.Handler:
    """Replace the root handlers with one stderr handler; returns it."""
    out = stream or sys.stderr
    use_journal = journal_stream_is(out) if journal is None else journal
    handler = logging.StreamHandler(out)
    if use_journal:
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"
            )
        )
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level.upper(), logging.INFO))
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    return handler

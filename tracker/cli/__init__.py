"""The `report-intake` command line (click + rich): `entry` is the entry point."""

import os
import sys

from tracker.cli.main import main

__all__ = ["entry", "main"]


def entry() -> None:
    """The console script: files the command line creates (the database, stored mail,
    exports) are readable by their owner only, as under the systemd unit (UMask=0077)."""
    os.umask(0o077)
    try:
        main(standalone_mode=True)
    except Exception as exc:
        if not _database_busy_or_gone(exc):
            raise
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        hint = ""
        if "locked" in text:
            hint = " (another report-intake process is writing: try again in a minute)"
        sys.stderr.write(f"report-intake: error: database: {text[:300]}{hint}\n")
        sys.exit(1)


def _database_busy_or_gone(exc: BaseException) -> bool:
    """A database that is locked, unreachable or refused the statement (SQLAlchemy's
    OperationalError), told without importing SQLAlchemy for commands that do not load it."""
    return any(
        c.__name__ == "OperationalError" and c.__module__.startswith("sqlalchemy")
        for c in type(exc).__mro__
    )

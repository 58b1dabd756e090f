"""Shared helpers of the command line: errors, the app, parameter types, message rows.

Imports nothing heavy (SQLAlchemy, the app, the templates): `report-intake --help` and a
command that needs little start fast; each command imports what it uses."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from tracker.app import App

STATE_LABELS = {
    "upcoming": "未到期",
    "open": "进行中",
    "received": "已报送",
    "late": "逾期报送",
    "missing": "未报送",
    "excused": "已免报",
}
STATE_STYLES = {
    "upcoming": "dim",
    "open": "cyan",
    "received": "green",
    "late": "yellow",
    "missing": "bold red",
    "excused": "magenta",
}

# (module, class): failures a command ends with in one line. Looked up only in modules
# already imported (an exception can only come from one that is).
_KNOWN_ERRORS = (
    ("tracker.config", "ConfigError"),
    ("tracker.roster", "RosterError"),
    ("tracker.db", "DatabaseError"),
    ("intake.mailbox", "MailboxError"),
    ("tracker.outgoing.emails", "MailConfigError"),
)


def known_errors() -> tuple[type[Exception], ...]:
    return tuple(
        getattr(sys.modules[module], name)
        for module, name in _KNOWN_ERRORS
        if module in sys.modules and hasattr(sys.modules[module], name)
    )


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"report-intake: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Known failures become one line on stderr and a non-zero exit, never a traceback."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, known_errors()):
            fail(str(exc) or type(exc).__name__)
        raise


def open_app(ctx: click.Context) -> App:
    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        from tracker.app import App
        from tracker.config import find_config_path

        with clear_errors():
            path = find_config_path(obj.get("config_path"))
            app = App.from_path(path)
            _setup_logging(app.config.log_level, obj.get("verbose", False))
            for warning in app.config.warnings:
                logging.getLogger("tracker.config").warning("%s", warning)
            app.roster  # noqa: B018  (validate the roster at the edge)
            app.db  # noqa: B018
        obj["app"] = app
        ctx.call_on_close(app.close)
    app_obj: App = obj["app"]
    return app_obj


def _setup_logging(level: str, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        for noisy in ("alembic", "apscheduler", "mailparser"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def parse_as_of(value: str | None, app: App) -> date:
    if value is None:
        return app.clock().today()
    return value_as_date(value)


def value_as_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: {value!r} is not a date YYYY-MM-DD")


class AsOf(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date YYYY-MM-DD", param, ctx)


class Period(click.ParamType):
    name = "YYYY-MM"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        from tracker.roster import period_of

        try:
            period_of(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a period YYYY-MM", param, ctx)
        return str(value)


AS_OF = AsOf()
PERIOD = Period()


def default_by() -> str:
    """Who runs a staff command, for the audit trail: the login behind sudo, else the user."""
    import getpass
    import os

    who = os.environ.get("SUDO_USER")
    if not who:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
    return f"cli:{who}"


CAMPAIGN = click.option(
    "--campaign",
    help="The campaign (its [campaign] name), when the unit owes that month in several.",
)
BY = click.option(
    "--by",
    default=default_by,
    show_default="cli:$USER",
    help="Who decides, for the history (audit trail).",
)


def message_json(msg: Any) -> dict[str, Any]:
    return {
        "id": msg.id,
        "message_id": msg.message_id,
        "from": msg.from_addr,
        "subject": msg.subject,
        "received_at": msg.received_at.isoformat(),
        "sent_at": msg.sent_at.isoformat() if msg.sent_at else None,
        "new_sender": bool(msg.new_sender),
        "kind": msg.kind,
        "decision": msg.decision,
        "units": [mu.unit.name for mu in msg.units],
        "period": msg.period,
        "attachments": sum(1 for a in msg.attachments if a.kind == "file"),
        "links": sum(1 for a in msg.attachments if a.kind == "link"),
        "reasons": list(msg.reasons or []),
        "decided_by": msg.decided_by,
    }


def _messages_query() -> Any:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from tracker.models import Message, MessageUnit

    return (
        select(Message)
        .options(
            selectinload(Message.units).selectinload(MessageUnit.unit),
            selectinload(Message.attachments),
        )
        .order_by(Message.id)
    )

"""The `report-intake` command group and its intake commands (poll, messages, status,
match, demo); the other commands register themselves from their own modules."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker.cli.common import (
    AS_OF,
    PERIOD,
    STATE_LABELS,
    STATE_STYLES,
    _messages_query,
    _setup_logging,
    clear_errors,
    fail,
    message_json,
    open_app,
)
from tracker.cli.output import printer

if TYPE_CHECKING:
    from rich.console import Console


class _Group(click.Group):
    """The command group: a known failure in any command (a bad config, no `[smtp] from`
    when mail is built, ...) ends in one line on stderr, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        with clear_errors():
            return super().invoke(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="REPORT_INTAKE_CONFIG",
    help="Config file (TOML). Default: $REPORT_INTAKE_CONFIG.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.version_option(package_name="report-intake")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """report-intake: takes in the reports units email to the shared mailbox, tracks
    who reported which month, and chases what is missing."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["verbose"] = verbose


# --- poll ---------------------------------------------------------------------------------


@main.command()
@click.option("--once", is_flag=True, required=True, help="Run one intake pass and exit.")
@click.pass_context
def poll(ctx: click.Context, once: bool) -> None:
    """Take in new mail from the mailbox once and print what was recorded."""
    app = open_app(ctx)
    from tracker.heartbeat import ping
    from tracker.hooks import receipt_hook

    beat = app.config.watch.heartbeat_url
    try:
        with clear_errors():
            report = app.recorder(on_recorded=receipt_hook(app)).poll_once(app.source())
    except BaseException:
        ping(beat, ok=False)
        raise
    ping(beat, ok=True)
    from tracker.pollstate import note_poll

    note_poll(app.db, app.clock().now(), report.new, report.in_review)
    for r in report.recorded:
        units = "、".join(r.units) or "-"
        click.echo(
            f"#{r.id} {r.decision:<8} {units} {r.period or '-'} "
            f"[{r.attachments} attachment(s)] {r.from_addr} {r.subject}"
        )
    line = (
        f"{report.fetched} fetched, {report.new} recorded "
        f"({report.in_review} in review), {report.duplicates} already recorded"
    )
    if report.uidvalidity_changed:
        line += "; UIDVALIDITY changed, mailbox rescanned"
    click.echo(line)  # plain lines: rich is not loaded for a poll
    if app.config.smtp.configured:
        from tracker.outgoing.outbox import deliver_now, delivery_line

        kinds = ("receipt", "sender-notice")
        sent = deliver_now(app.db, app.config.smtp, app.clock(), kinds=kinds)
        said = delivery_line(app.db, sent, kinds)
        if said:
            click.echo(f"receipts: {said}")


# --- messages -----------------------------------------------------------------------------

MESSAGES_PAGE = 500


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option(
    "--decision",
    type=click.Choice(["matched", "review", "ignored"]),
    help="Only messages with this decision.",
)
@click.pass_context
def messages(ctx: click.Context, as_json: bool, decision: str | None) -> None:
    """List every recorded message."""
    from tracker.models import Message

    app = open_app(ctx)
    tz = app.config.timezone
    q = _messages_query()
    if decision:
        q = q.where(Message.decision == decision)
    if as_json:
        # Streamed a page of rows at a time (by id), each page in its own session: memory
        # stays flat with 50,000 messages.
        last = 0
        while True:
            with app.db.session() as s:
                page = list(s.scalars(q.where(Message.id > last).limit(MESSAGES_PAGE)))
                lines = [json.dumps(message_json(msg), ensure_ascii=False) for msg in page]
            if not page:
                return
            click.echo("\n".join(lines))
            last = page[-1].id
    with app.db.session() as s:
        from rich.table import Table

        rows = list(s.scalars(q))
        table = Table(title=f"{len(rows)} messages")
        for col in ("id", "received", "from", "subject", "decision", "units", "period", "att."):
            table.add_column(col, overflow="fold")
        for msg in rows:
            table.add_row(
                str(msg.id),
                msg.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                msg.from_addr,
                msg.subject[:60],
                msg.decision,
                "、".join(mu.unit.name for mu in msg.units),
                msg.period or "",
                str(sum(1 for a in msg.attachments if a.kind == "file")),
            )
        printer().print(table)


# --- status -------------------------------------------------------------------------------


@main.command()
@click.option("--period", type=PERIOD, help="Only this period (YYYY-MM).")
@click.option("--as-of", "as_of", type=AS_OF, help="Answer for this date (default: today).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of slots.")
@click.option(
    "--campaign",
    help="Only this campaign (its name); default: the campaigns active on the date.",
)
@click.pass_context
def status(
    ctx: click.Context,
    period: str | None,
    as_of: date | None,
    as_json: bool,
    campaign: str | None,
) -> None:
    """One row per slot: unit, period, due date, state and the messages counted."""
    from tracker.evidence import slot_completeness
    from tracker.slots import slot_states

    app = open_app(ctx)
    day = as_of or app.clock().today()
    keys = campaigns_option(app, day, campaign)
    with app.db.session() as s:
        rows = slot_states(s, as_of=day, tz=app.config.timezone, period=period, campaigns=keys)
        held = slot_completeness(s, rows) if as_json else {}
    if as_json:
        # Written slot by slot (the same text as one json.dumps of the list with indent=1),
        # never the whole document as one string.
        for i, r in enumerate(rows):
            item = {
                "campaign": r.campaign,
                "unit": r.unit,
                "period": r.period,
                "due": r.due.isoformat(),
                "state": r.state,
                "submissions": [
                    {"id": sub.message_id, "received_at": sub.received_at.isoformat()}
                    for sub in r.submissions
                ],
                **held[r.slot_id].as_json(),
            }
            text = json.dumps(item, ensure_ascii=False, indent=1).replace("\n", "\n ")
            click.echo(("[\n " if i == 0 else ",\n ") + text, nl=False)
        click.echo("\n]" if rows else "[]")
        return
    print_status_table(rows, day)


def campaigns_option(app: Any, day: date, campaign: str | None) -> list[str] | None:
    """`--campaign` checked against the roster, else the campaigns active on `day`."""
    from tracker.slots import chosen_campaigns

    try:
        return chosen_campaigns(
            app.roster, day, campaign, max(app.config.reminders.overdue_after, default=0)
        )
    except ValueError as exc:
        fail(str(exc))


def print_status_table(rows: list[Any], day: date, console: Console | None = None) -> None:
    from rich.table import Table

    console = console or printer()
    table = Table(title=f"Slots as of {day.isoformat()}")
    for col in ("unit", "period", "due", "state", "messages"):
        table.add_column(col)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
        table.add_row(
            r.unit,
            r.period,
            r.due.isoformat(),
            f"[{STATE_STYLES[r.state]}]{r.state} {STATE_LABELS[r.state]}[/]",
            ", ".join(f"#{sub.message_id}" for sub in r.submissions),
        )
    console.print(table)
    console.print(
        ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no slots",
        markup=False,
    )


# --- match (dry run) ----------------------------------------------------------------------


@main.command("match")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option(
    "--received",
    type=AS_OF,
    help="Date the mails arrived (default: a file's own Date header, else now).",
)
@click.pass_context
def match_cmd(
    ctx: click.Context, files: tuple[str, ...], as_json: bool, received: date | None
) -> None:
    """Dry run: classify and match mail files (.eml) against the roster; writes nothing.

    A file has no arrival time: it is taken from --received, else the file's Date header."""
    from intake.parsing import parse_message
    from tracker.recording import analyse

    app = open_app(ctx)
    units = app.recorder().unit_refs()
    now = app.clock().now()
    when = datetime.combine(received, now.timetz()) if received is not None else now
    for name in files:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            fail(f"{name}: {exc.strerror}")
        arrived = when
        if received is None:
            try:
                sent = parse_message(raw).date
            except Exception:  # unreadable: analyse says so below
                sent = None
            arrived = sent if sent is not None and sent <= now else now
        a = analyse(
            raw,
            units,
            received_at=arrived,
            own_addresses=app.config.own_addresses,
            jurisdiction=app.roster.jurisdiction,
        )
        out: dict[str, Any] = {
            "file": name,
            "kind": a.result.kind,
            "decision": a.result.decision,
            "units": list(a.result.units),
            "period": a.result.period,
            "confidence": round(a.result.confidence, 2),
            "reasons": list(a.result.reasons),
        }
        if as_json:
            click.echo(json.dumps(out, ensure_ascii=False))
        else:
            click.echo(
                f"{name}: {out['kind']} {out['decision']} "
                f"{'、'.join(out['units']) or '-'} {out['period'] or '-'}"
            )
            for reason in out["reasons"]:
                click.echo(f"    {reason}")


def register_all(group: click.Group, registrars: list[Callable[[click.Group], None]]) -> None:
    for register in registrars:
        register(group)


# --- demo ---------------------------------------------------------------------------------


@main.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False),
    default="demo-workspace",
    show_default=True,
    help="Where to build the throwaway workspace (recreated on every run).",
)
@click.option(
    "--as-of", "as_of", type=AS_OF, help="Show the slots as of this date (default 2023-06-30)."
)
@click.option(
    "--serve",
    is_flag=True,
    help="Then serve the staff board with a demo login until Enter (or Ctrl-C) is pressed.",
)
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="Where --serve listens (another free port is taken when this one is busy).",
)
def demo(workdir: str, as_of: date | None, serve: bool, listen: str) -> None:
    """Build a throwaway workspace (SQLite + a Maildir of sample reports) and run the
    real pipeline over it; with --serve, then show it on the staff board."""
    from tracker.demo import default_as_of, make_workspace, open_demo
    from tracker.models import Message
    from tracker.slots import slot_states

    console = printer()
    try:
        ws = make_workspace(Path(workdir).resolve())
    except FileExistsError as exc:
        fail(str(exc))
    console.print(f"Demo workspace: {ws.root}", markup=False)
    console.print(f"Wrote {len(ws.samples)} sample mails into {ws.maildir}", markup=False)
    with clear_errors():
        app = open_demo(ws)
        _setup_logging("WARNING", False)
        report = app.recorder().poll_once(app.source())
        again = app.recorder().poll_once(app.source())
    console.print(
        f"Intake pass: {report.fetched} fetched, {report.new} recorded, "
        f"{report.in_review} in review. A second pass recorded {again.new}.",
        markup=False,
    )
    from rich.table import Table

    table = Table(title="Messages")
    for col, width in (
        ("id", 3),
        ("subject", 18),
        ("kind", 7),
        ("decision", 8),
        ("units", 10),
        ("period", 7),
        ("att.", 4),
    ):
        table.add_column(col, min_width=width, overflow="fold")
    day = as_of or default_as_of()
    with app.db.session() as s:
        for msg in s.scalars(_messages_query()):
            table.add_row(
                str(msg.id),
                msg.subject if len(msg.subject) <= 18 else msg.subject[:17] + "…",
                msg.kind,
                msg.decision,
                "、".join(mu.unit.name for mu in msg.units),
                msg.period or "",
                str(sum(1 for a in msg.attachments if a.kind == "file")),
            )
        rows = [
            r
            for r in slot_states(s, as_of=day, tz=app.config.timezone)
            if r.period <= day.isoformat()[:7]
        ]
        in_review = s.query(Message).filter(Message.decision == "review").count()
    console.print(table)
    print_status_table(rows, day, console)
    store = app.config.storage_dir
    console.print(f"\nStored files:   {store / 'files'}", markup=False)
    console.print(f"Thumbnails:     {store / 'thumbs'}", markup=False)
    console.print(f"Raw mail:       {store / 'raw'}", markup=False)
    console.print(f"Database:       {app.config.database_url}", markup=False)
    console.print(f"In review:      {in_review} message(s)", markup=False)
    console.print(
        f"\nTry: {_command_name()} --config {ws.config} status --as-of 2023-05-20",
        markup=False,
    )
    if serve:
        from tracker.demo import serve_board

        with clear_errors():
            serve_board(app, ws, day, listen, console, _command_name())
    app.close()


def _command_name() -> str:
    """How the user can run this command again: bare when on PATH, else its path."""
    import os
    import shutil

    argv0 = sys.argv[0]
    found = shutil.which("report-intake")
    if found and os.path.realpath(found) == os.path.realpath(argv0):
        return "report-intake"
    if os.path.basename(argv0) != "report-intake":
        return "report-intake"
    rel = os.path.relpath(argv0)
    return rel if not rel.startswith("..") else argv0


def _register_commands() -> None:
    from tracker.cli import addresses, mail, roster, service, staff, web

    staff.register(main)
    addresses.register(main)
    mail.register(main)
    service.register(main)
    web.register(main)
    roster.register(main)


_register_commands()

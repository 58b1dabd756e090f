"""Mail commands: `remind`, `digest` and `outbox` (registered on the main group).

Without --dry-run, `remind` and `digest` queue their mail and deliver the outbox before
they return; the exit status is 1 when something could not be delivered yet (it stays
in the outbox and is retried), 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from intake.addresses import BadAddress, check_address
from tracker.cli.common import AS_OF, fail, open_app
from tracker.cli.output import printer

# tracker.outgoing.outbox.STATES (a test keeps them equal): the option's choices without
# importing the outbox (and SQLAlchemy) for `--help`
OUTBOX_STATES = ("pending", "sending", "delivering", "sent", "uncertain", "failed", "cancelled")

if TYPE_CHECKING:
    from tracker.app import App
    from tracker.outgoing.outbox import DeliveryReport


def register(main: click.Group) -> None:
    for command in (remind, digest, outbox):
        main.add_command(command)


def _out(text: str) -> None:
    printer().print(text, markup=False, highlight=False)


def _delivery_lines(d: DeliveryReport | None) -> int:
    """Print the delivery outcome; the exit status it calls for."""
    if d is None:
        return 0
    _out(f"outbox: {d.summary()}")
    for err in d.errors:
        _out(f"  {err}")
    if d.stopped:
        _out(f"  sending stopped: {d.stopped}")
    return 1 if d.undelivered else 0


def _need_smtp(app: App) -> None:
    if not app.config.smtp.configured:
        fail("[smtp] is not configured (host and from): cannot send; use --dry-run to preview")


@click.command()
@click.option("--as-of", "as_of", type=AS_OF, help="Plan for this date (default: today).")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and record nothing.")
@click.option("--campaign", help="Only this campaign (default: those active on the date).")
@click.pass_context
def remind(ctx: click.Context, as_of: date | None, dry_run: bool, campaign: str | None) -> None:
    """Send today's reminders to the units whose report is missing."""
    from tracker.cli.main import campaigns_option
    from tracker.outgoing.reminders import send_reminders

    app = open_app(ctx)
    if not dry_run:
        _need_smtp(app)
    clock = app.clock()
    day = as_of or clock.today()
    keys = campaigns_option(app, day, campaign) if campaign else None
    report = send_reminders(
        app.db, app.roster, app.config, clock, dry_run, as_of=day, campaigns=keys
    )
    if not app.config.reminders.enabled:
        _out("reminders are switched off ([reminders] enabled = false)")
        return
    if report.holiday:
        _out(f"{day.isoformat()} is not a working day: no reminders are sent today")
        return
    verb = "would send" if dry_run else "queued"
    for p in report.queued:
        cc = f" cc {', '.join(p.cc)}" if p.cc else ""
        _out(f"{verb}: {p.unit} {p.period} {p.stage} -> {', '.join(p.to)}{cc}")
    for p, address, why in report.skipped:
        _out(f"skipped: {p.unit} {p.period} {p.stage} -> {address[:80]!r}: {why}")
    for p in report.no_address:
        _out(f"no address: {p.unit} {p.period} {p.stage} (add the unit's email to the roster)")
    _out(
        f"{day.isoformat()}: {len(report.queued)} reminder(s) {verb}, "
        f"{len(report.no_address)} unit(s) without an address"
    )
    sys.exit(_delivery_lines(report.delivery))


@click.command()
@click.option("--as-of", "as_of", type=AS_OF, help="The digest for this date (default: today).")
@click.option("--dry-run", is_flag=True, help="Build it and print a summary; send nothing.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the HTML (images embedded) to this file.",
)
@click.option("--to", "to", multiple=True, help="Send to this address instead (repeatable).")
@click.option("--campaign", help="Only this campaign (default: those active on the date).")
@click.pass_context
def digest(
    ctx: click.Context,
    as_of: date | None,
    dry_run: bool,
    out_file: Path | None,
    to: tuple[str, ...],
    campaign: str | None,
) -> None:
    """Build the weekly digest for staff and send it (once a week per recipient list)."""
    from tracker.outgoing.digest import send_digest

    app = open_app(ctx)
    config = app.config
    if not (to or config.digest.recipients or config.staff or dry_run):
        fail("the digest has no recipients: set [digest] recipients or [office] staff, or --to")
    for addr in to:
        try:
            check_address(addr)
        except BadAddress as exc:
            fail(f"--to: {addr[:80]!r} is not an email address ({exc})")
    if not dry_run:
        _need_smtp(app)
    clock = app.clock()
    from tracker.cli.main import campaigns_option

    roster = app.roster.only(campaigns_option(app, as_of or clock.today(), campaign))
    report = send_digest(
        app.db,
        config,
        roster,
        clock,
        as_of=as_of or clock.today(),
        dry_run=dry_run,
        out_file=out_file,
        to=[a.lower() for a in to] or None,
    )
    _out(f"subject: {report.subject}")
    _out(f"to: {', '.join(report.recipients) or '(nobody: set [digest] recipients)'}")
    _out(
        f"{report.reports} new report(s), {report.images} contact sheet(s), "
        f"{report.size // 1024} KB"
    )
    if report.no_address:
        _out(f"units without an address: {'、'.join(report.no_address)}")
    if report.out_file:
        _out(f"written: {report.out_file}")
    if dry_run:
        _out("dry run: nothing sent")
        return
    if report.already_sent:
        _out(f"already queued this week ({report.key}): not sent again")
    sys.exit(_delivery_lines(report.delivery))


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option("--state", type=click.Choice(list(OUTBOX_STATES)), help="Only rows in this state.")
@click.option("--deliver", is_flag=True, help="Deliver what is due now before listing.")
@click.pass_context
def outbox(ctx: click.Context, as_json: bool, state: str | None, deliver: bool) -> None:
    """List the outgoing mail: what was sent, what waits, what failed and why.

    A mail whose delivery was interrupted after the server may have taken it is
    "uncertain" (可能已发出): it is never resent on its own; `outbox resend ID` sends it
    again once you know it did not arrive."""
    from tracker.outgoing.outbox import deliver_now, list_outbox

    if ctx.invoked_subcommand is not None:
        return
    app = open_app(ctx)
    code = 0
    if deliver:
        _need_smtp(app)
        d = deliver_now(app.db, app.config.smtp, app.clock())
        if not as_json:
            code = _delivery_lines(d)
    with app.db.session() as s:
        rows = list_outbox(s, state=state)
    if as_json:
        for r in rows:
            click.echo(json.dumps(r.as_json(), ensure_ascii=False))
        sys.exit(code)
    tz = app.config.timezone
    from rich.table import Table

    table = Table(title=f"Outbox: {len(rows)} mail(s)")
    for col in ("id", "kind", "state", "to", "subject", "tries", "when", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = r.sent_at or r.next_attempt_at
        table.add_row(
            str(r.id),
            r.kind,
            r.state,
            ", ".join(r.recipients),
            r.subject[:50],
            str(r.attempts),
            when.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            r.last_error or "",
        )
    printer().print(table)
    sys.exit(code)


@outbox.command("resend")
@click.argument("row_id", metavar="ID", type=int)
@click.pass_context
def outbox_resend(ctx: click.Context, row_id: int) -> None:
    """Send an uncertain (可能已发出) or failed mail again: check first that it did not
    arrive, since an uncertain one may already be in the recipient's mailbox."""
    from tracker.outgoing.outbox import resend

    app = open_app(ctx)
    try:
        previous = resend(app.db, row_id, app.clock().now())
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"outbox #{row_id}: {previous} -> pending; it goes out with the next delivery")

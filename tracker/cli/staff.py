"""Staff commands: the review queue, corrections, re-matching and the yearly export."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker.cli.common import (
    AS_OF,
    BY,
    CAMPAIGN,
    PERIOD,
    _messages_query,
    fail,
    message_json,
    open_app,
)
from tracker.cli.output import printer

if TYPE_CHECKING:
    from tracker.app import App


def register(main: click.Group) -> None:
    for command in (
        review,
        assign_cmd,
        ignore_cmd,
        unassign_cmd,
        excuse_cmd,
        reschedule_cmd,
        history_cmd,
        undo_cmd,
        rematch_cmd,
        export_cmd,
        show,
    ):
        main.add_command(command)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.pass_context
def review(ctx: click.Context, as_json: bool) -> None:
    """The review queue: messages the system would not decide alone, with its reasons."""
    from tracker.models import Message

    app = open_app(ctx)
    tz = app.config.timezone
    with app.db.session() as s:
        rows = list(s.scalars(_messages_query().where(Message.decision == "review")))
        if as_json:
            for msg in rows:
                click.echo(json.dumps(message_json(msg), ensure_ascii=False))
            return
        console = printer()
        if not rows:
            console.print("The review queue is empty.")
            return
        from rich.table import Table

        table = Table(title=f"Review queue: {len(rows)} message(s)")
        for col in ("id", "received", "from", "subject", "guess", "reasons"):
            table.add_column(col, overflow="fold")
        for msg in rows:
            guess = " ".join(
                x for x in ("、".join(mu.unit.name for mu in msg.units), msg.period or "") if x
            )
            table.add_row(
                str(msg.id),
                msg.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                msg.from_addr,
                msg.subject[:50],
                guess,
                "；".join(msg.reasons or []),
            )
        console.print(table)
        console.print(
            "Decide with: report-intake assign ID --unit 单位 --period YYYY-MM, "
            "or report-intake ignore ID",
            markup=False,
        )


@click.command()
@click.argument("message_id", type=int)
@click.pass_context
def show(ctx: click.Context, message_id: int) -> None:
    """Everything recorded about one message: headers, decision, reasons, attachments."""
    from tracker.models import Message

    app = open_app(ctx)
    with app.db.session() as s:
        msg = s.scalar(_messages_query().where(Message.id == message_id))
        if msg is None:
            fail(f"message #{message_id}: no such message", 1)
        data = message_json(msg)
        data["raw"] = str(app.config.storage_dir / msg.raw_path) if msg.raw_path else None
        data["parse_error"] = msg.parse_error
        data["marks"] = ["新发件地址"] if msg.new_sender else []
        data["files"] = [
            {
                "name": a.filename,
                "kind": a.kind,
                "size": a.size,
                "path": str(app.config.storage_dir / a.relpath) if a.relpath else None,
                "url": a.url,
                "error": a.error,
            }
            for a in msg.attachments
        ]
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))


@click.command("assign")
@click.argument("message_id", type=int)
@click.option(
    "--unit", "units", multiple=True, required=True, help="Unit name (repeat for a joint report)."
)
@click.option("--period", type=PERIOD, required=True, help="The month reported on, YYYY-MM.")
@click.option(
    "--kind", type=click.Choice(["report", "liaison"]), default="report", show_default=True
)
@click.option("--note", default="", help="A note kept with the decision.")
@CAMPAIGN
@BY
@click.pass_context
def assign_cmd(
    ctx: click.Context,
    message_id: int,
    units: tuple[str, ...],
    period: str,
    kind: str,
    note: str,
    campaign: str | None,
    by: str,
) -> None:
    """Decide a message by hand: it is KIND for these units and this period.

    A unit may be written as staff write it (alias, traditional characters, abbreviation,
    several in one --unit separated by 、); a name that is not one unit's is refused with
    close names to choose from."""
    from tracker.staff import StaffError, assign, shared_slots
    from tracker.unitnames import split_names

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            msg = assign(
                s,
                app.roster,
                message_id,
                split_names(units),
                period,
                app.clock().now(),
                kind=kind,
                note=note,
                by=by,
                config=app.config,
                campaign=campaign,
            )
            names = "、".join(mu.unit.name for mu in msg.units)
            click.echo(f"#{msg.id}: {kind} for {names} {period} (staff decision)")
            for shared in shared_slots(s, app.roster, msg):
                click.echo(shared.en())
    except StaffError as exc:
        fail(str(exc), 1)
    _deliver_receipts(app)


@click.command("ignore")
@click.argument("message_id", type=int)
@click.option("--note", default="", help="A note kept with the decision (the reason).")
@BY
@click.pass_context
def ignore_cmd(ctx: click.Context, message_id: int, note: str, by: str) -> None:
    """Decide a message by hand: it is not a report."""
    from tracker.staff import StaffError, ignore

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            ignore(s, app.roster, message_id, app.clock().now(), note, by=by)
    except StaffError as exc:
        fail(str(exc), 1)
    click.echo(f"#{message_id}: ignored (staff decision)")


@click.command("unassign")
@click.argument("message_id", type=int)
@click.option("--note", default="", help="A note kept with the change.")
@click.option(
    "--campaign",
    help="The campaign (its [campaign] name) the message is counted in: refused if another.",
)
@BY
@click.pass_context
def unassign_cmd(
    ctx: click.Context, message_id: int, note: str, campaign: str | None, by: str
) -> None:
    """Take a message's decision back: it leaves every slot and waits in review again.

    With --campaign, only if that is the campaign its report is counted in."""
    from tracker.staff import StaffError, unassign

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            unassign(s, app.roster, message_id, app.clock().now(), note, by=by, campaign=campaign)
    except StaffError as exc:
        fail(str(exc), 1)
    click.echo(f"#{message_id}: back in review (staff decision)")


@click.command("excuse")
@click.argument("unit")
@click.argument("period", type=PERIOD)
@click.option("--note", default="", help="Why (kept with the slot).")
@click.option("--undo", is_flag=True, help="Take the excuse back.")
@CAMPAIGN
@BY
@click.pass_context
def excuse_cmd(
    ctx: click.Context,
    unit: str,
    period: str,
    note: str,
    undo: bool,
    campaign: str | None,
    by: str,
) -> None:
    """Excuse UNIT from reporting for PERIOD (no reminders, counted as excused)."""
    from tracker.staff import StaffError, excuse

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            slot = excuse(
                s,
                app.roster,
                unit,
                period,
                note,
                undo,
                by=by,
                now=app.clock().now(),
                campaign=campaign,
            )
            name = slot.unit.name
    except StaffError as exc:
        fail(str(exc), 1)
    click.echo(f"{name} {period}: {'no longer excused' if undo else 'excused'}")


@click.command("reschedule")
@click.argument("unit")
@click.argument("period", type=PERIOD)
@click.argument("to_period", metavar="TO_PERIOD", type=PERIOD)
@click.option("--note", default="", help="Why (kept in the history).")
@CAMPAIGN
@BY
@click.pass_context
def reschedule_cmd(
    ctx: click.Context,
    unit: str,
    period: str,
    to_period: str,
    note: str,
    campaign: str | None,
    by: str,
) -> None:
    """UNIT's event moved from PERIOD to TO_PERIOD: its slot (and due date) moves with it."""
    from tracker.staff import StaffError, reschedule

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            slot = reschedule(
                s,
                app.roster,
                unit,
                period,
                to_period,
                app.clock().now(),
                note=note,
                by=by,
                campaign=campaign,
            )
            name, due = slot.unit.name, slot.due
    except StaffError as exc:
        fail(str(exc), 1)
    click.echo(f"{name}: {period} -> {to_period} (due {due.isoformat()})")


@click.command("history")
@click.option("--message", "message_id", type=int, help="Only this message's history.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.pass_context
def history_cmd(ctx: click.Context, message_id: int | None, limit: int, as_json: bool) -> None:
    """Staff actions, newest first: who, when, what, before -> after (the audit trail)."""
    from tracker.audit import history

    app = open_app(ctx)
    tz = app.config.timezone
    with app.db.session() as s:
        for row in history(s, message_id=message_id, limit=limit):
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "id": row.id,
                            "at": row.at.isoformat(),
                            "by": row.by,
                            "action": row.action,
                            "message_id": row.message_id,
                            "summary": row.summary,
                            "before": row.before,
                            "after": row.after,
                            "note": row.note,
                            "undoes": row.undoes_id,
                            "undone_by": row.undone_by_id,
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                undone = f" (undone by #{row.undone_by_id})" if row.undone_by_id else ""
                when = row.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                click.echo(f"#{row.id} {when} {row.by} {row.action}: {row.summary}{undone}")


@click.command("undo")
@click.argument("history_id", type=int)
@BY
@click.pass_context
def undo_cmd(ctx: click.Context, history_id: int, by: str) -> None:
    """Undo one staff action (an id from `history`), if nothing changed it since."""
    from tracker.staff import StaffError, undo

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            row = undo(s, app.roster, history_id, app.clock().now(), by=by)
            summary = row.summary
    except StaffError as exc:
        fail(str(exc), 1)
    click.echo(f"#{history_id} undone: {summary}")


@click.command("rematch")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every recorded message.")
@click.pass_context
def rematch_cmd(ctx: click.Context, ids: tuple[int, ...], all_: bool) -> None:
    """Re-run matching on recorded messages (IDs, or --all) from their raw copies.

    Staff decisions are kept as they are. Messages are taken in pages, each written in
    one transaction and printed as it is written: a run stopped halfway and started again
    ends the same. Each mail is analysed under [mailbox] analysis_seconds and
    analysis_memory_mb, as `poll` analyses it; a mail past them is left as it was, with
    one line saying why."""
    from sqlalchemy.exc import SQLAlchemyError

    from tracker.staff import RematchChange, RematchEvent, StaffError, rematch_stream

    if bool(ids) == all_:
        fail("give message IDs or --all (not both)")
    app = open_app(ctx)
    units = app.recorder().unit_refs()
    mb = app.config.mailbox

    def tell(event: RematchEvent) -> None:
        if isinstance(event, RematchChange):
            click.echo(f"#{event.message_id}: {event.before} -> {event.after}")
        else:
            click.echo(f"#{event.message_id}: left as it was: {event.reason}")

    try:
        changed, kept = rematch_stream(
            app.db,
            app.roster,
            units,
            app.config.storage_dir,
            app.clock().now(),
            ids=ids,
            own_addresses=app.config.own_addresses,
            seconds=mb.analysis_seconds,
            memory_bytes=mb.analysis_memory_mb * 1024 * 1024,
            report=tell,
        )
    except StaffError as exc:
        fail(str(exc), 1)
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"rematch stopped: {first}; what was printed is written, run it again to finish", 1)
    click.echo(f"{changed} changed, {kept} staff decision(s) kept")


@click.command("export")
@click.option("--year", type=int, help="Campaign year (default: the roster's first year).")
@click.option("--as-of", "as_of", type=AS_OF, help="States as of this date (default today).")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    help="The workbook to write: .xlsx, or .csv (the year's sheet only).",
)
@click.option(
    "--files",
    "files_dir",
    type=click.Path(file_okay=False),
    help="Write the evidence here (a new or empty folder): a folder per unit and month "
    "with its files and 说明.txt, and the workbook linking to them.",
)
@click.option(
    "--zip", "zip_file", type=click.Path(dir_okay=False), help="The same evidence as one .zip."
)
@click.option("--campaign", help="Only this campaign's slots (its name; default: all).")
@click.pass_context
def export_cmd(
    ctx: click.Context,
    year: int | None,
    as_of: date | None,
    out: str | None,
    files_dir: str | None,
    zip_file: str | None,
    campaign: str | None,
) -> None:
    """Export the year's record for the assessment: the workbook (slots, messages, summary)
    and the evidence (photos and write-ups by unit and month)."""
    from tracker.evidence_files import EvidenceError, build_bundle, write_folders, write_zip
    from tracker.export import export_year

    app = open_app(ctx)
    if not (out or files_dir or zip_file):
        fail("name what to write: --out FILE.xlsx (or .csv), --files DIR or --zip FILE.zip")
    if out and not out.lower().endswith((".xlsx", ".csv")):
        fail("--out: the file name must end in .xlsx or .csv")
    if zip_file and not zip_file.lower().endswith(".zip"):
        fail("--zip: the file name must end in .zip")
    from tracker.cli.main import campaigns_option

    day = as_of or app.clock().today()
    keys = campaigns_option(app, day, campaign) if campaign else None
    roster = app.roster.only(keys)
    periods = roster.periods()
    year = year or (int(periods[0][:4]) if periods else app.clock().today().year)
    # the workbook's title: the campaign of that year (the newest file's when several)
    of_year = [p for p in roster.parts if any(m[:4] == f"{year:04d}" for m in p.periods())]
    if not of_year:
        years = sorted({m[:4] for m in periods})
        fail(
            f"--year {year}: no campaign schedules a month of that year "
            f"(the roster covers {', '.join(years) or 'no year'})"
        )
    tz, camp = app.config.timezone, of_year[-1].campaign
    console = printer()
    try:
        if out:
            with app.db.session() as s:
                n = export_year(
                    s,
                    year=year,
                    as_of=day,
                    tz=tz,
                    out=Path(out),
                    campaign=camp,
                    campaigns=keys,
                )
            console.print(f"Wrote {n} slots of {year} to {out}", markup=False)
        if files_dir or zip_file:
            with app.db.session() as s:
                bundle = build_bundle(
                    s,
                    app.store,
                    year=year,
                    as_of=day,
                    tz=tz,
                    campaign=camp,
                    campaigns=keys,
                )
            if files_dir:
                n = write_folders(bundle, Path(files_dir))
                console.print(
                    f"Wrote {len(bundle.folders)} folders ({n} files) of {year} to {files_dir}",
                    markup=False,
                )
            if zip_file:
                with Path(zip_file).open("wb") as fh:
                    n = write_zip(bundle, fh)
                console.print(
                    f"Wrote {len(bundle.folders)} folders ({n} files) of {year} to {zip_file}",
                    markup=False,
                )
    except EvidenceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or out or files_dir or zip_file}: {exc.strerror or exc}")


def _deliver_receipts(app: App) -> None:
    """Send the receipt a decision queued now (the service's outbox job would, later)."""
    if not (app.config.smtp.configured and app.config.receipts.enabled):
        return
    from tracker.outgoing.outbox import deliver_now, delivery_line

    report = deliver_now(app.db, app.config.smtp, app.clock(), kinds=("receipt",))
    said = delivery_line(app.db, report, ("receipt",))
    if said:
        click.echo(f"receipts: {said}")

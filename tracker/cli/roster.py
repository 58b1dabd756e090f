"""Roster commands: `roster import` (registered on the main group)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from tracker.cli.common import fail


def register(main: click.Group) -> None:
    main.add_command(roster_group)


@click.group("roster")
def roster_group() -> None:
    """The roster of units: build one from a campaign notice."""


@roster_group.command("import")
@click.argument("notice", type=click.Path(dir_okay=False))
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Roster file to write."
)
@click.option("--force", is_flag=True, help="Overwrite --out when it exists.")
def import_cmd(notice: str, out: str, force: bool) -> None:
    """Build a roster from a notice: its web text (tables as `|` lines), .docx, .xlsx or
    saved .html. Reads the annex month tables, the central-event list, the mailbox, office,
    contact and deadline day; says what it could not read; never invents a unit."""
    from tracker.notice import NoticeError, read_notice, roster_toml
    from tracker.roster import RosterError, parse_roster

    target = Path(out)
    if target.exists() and not force:
        fail(f"{out}: exists (use --force to overwrite)")
    try:
        found = read_notice(notice)
    except NoticeError as exc:
        fail(str(exc), 1)
    for problem in found.problems:
        click.echo(f"could not read: {problem}")
    if not found.units:
        fail(f"{notice}: no unit read from the notice's month tables; nothing written", 1)
    text = roster_toml(found, Path(notice).name)
    try:
        roster = parse_roster(tomllib.loads(text), f"roster {out}")
    except RosterError as exc:  # the notice gave something a roster cannot hold
        fail(str(exc), 1)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: {exc.strerror}", 1)
    towns = sum(1 for u in roster.units if u.kind == "township")
    periods = roster.periods()
    central = sum(1 for u in roster.units if u.central)
    click.echo(
        f"wrote {out}: {len(roster.units)} units ({towns} townships, "
        f"{len(roster.units) - towns} departments), months {periods[0]} to {periods[-1]}, "
        f"{central} at the central event"
    )

"""`unit ...`: the units' known addresses and how far each is trusted (tracker.addressbook)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from tracker.cli.common import BY, fail, open_app
from tracker.cli.output import printer

if TYPE_CHECKING:
    from tracker.addressbook import AddressInfo

STATUS_LABELS = {"confirmed": "已确认", "learnt": "待确认", "refused": "无效"}
SOURCE_LABELS = {
    "roster": "名册",
    "staff": "工作人员",
    "liaison": "联络员登记",
    "report": "报送邮件",
}


def register(main: click.Group) -> None:
    main.add_command(unit)


def _json(info: AddressInfo) -> dict[str, object]:
    return {
        "unit": info.unit,
        "address": info.address,
        "status": info.status,
        "source": info.source,
        "message_id": info.message_id,
        "created_at": info.created_at.isoformat(),
        "confirmed_by": info.confirmed_by,
        "reminders": info.gets_reminders,
    }


@click.group()
def unit() -> None:
    """The units' addresses: list, add, remove, confirm."""


@unit.command("addresses")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.pass_context
def addresses_cmd(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """The known addresses of unit NAME (or of every unit): status, source, reminders.

    Learnt addresses (from liaison forms and automatically matched reports) get reminders
    only after `unit confirm-address`, or while the unit has no confirmed address."""
    from tracker.addressbook import AddressError, list_addresses

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            rows = list_addresses(s, app.roster, name)
    except AddressError as exc:
        fail(str(exc), 1)
    if as_json:
        for info in rows:
            click.echo(json.dumps(_json(info), ensure_ascii=False))
        return
    tz = app.config.timezone
    from rich.table import Table

    table = Table(title=f"{len(rows)} address(es)")
    for col in ("unit", "address", "status", "source", "from message", "reminders", "since"):
        table.add_column(col, overflow="fold")
    for info in rows:
        table.add_row(
            info.unit,
            info.address,
            STATUS_LABELS.get(info.status, info.status),
            SOURCE_LABELS.get(info.source, info.source),
            f"#{info.message_id}" if info.message_id else "",
            "yes" if info.gets_reminders else "no",
            info.created_at.astimezone(tz).strftime("%Y-%m-%d"),
        )
    printer().print(table)


def _act(ctx: click.Context, action: str, name: str, address: str, by: str) -> None:
    from tracker.addressbook import AddressError
    from tracker.staff import StaffError, add_address, confirm_address, remove_address

    """One audited staff action (tracker.staff, undoable with `undo`)."""
    app = open_app(ctx)
    now = app.clock().now()
    try:
        with app.db.session() as s:
            if action == "add":
                unit_name, done = add_address(s, app.roster, name, address, now, by=by)
                line = f"{unit_name}: {done} added (confirmed)"
            elif action == "confirm":
                unit_name, done = confirm_address(s, app.roster, name, address, now, by=by)
                line = f"{unit_name}: {done} confirmed"
            else:
                unit_name, done = remove_address(s, app.roster, name, address, now, by=by)
                line = f"{unit_name}: {done} removed"
    except (AddressError, StaffError) as exc:
        fail(str(exc), 1)
    click.echo(line)


@unit.command("add-address")
@click.argument("name")
@click.argument("address")
@BY
@click.pass_context
def add_cmd(ctx: click.Context, name: str, address: str, by: str) -> None:
    """Add ADDRESS to unit NAME as a confirmed address (it gets reminders)."""
    _act(ctx, "add", name, address, by)


@unit.command("confirm-address")
@click.argument("name")
@click.argument("address")
@BY
@click.pass_context
def confirm_cmd(ctx: click.Context, name: str, address: str, by: str) -> None:
    """Confirm a learnt ADDRESS of unit NAME: it gets reminders and stays."""
    _act(ctx, "confirm", name, address, by)


@unit.command("remove-address")
@click.argument("name")
@click.argument("address")
@BY
@click.pass_context
def remove_cmd(ctx: click.Context, name: str, address: str, by: str) -> None:
    """Remove ADDRESS from unit NAME (roster addresses: edit the roster file)."""
    _act(ctx, "remove", name, address, by)

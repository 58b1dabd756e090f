"""The board's commands: `web` (serve it) and `user add|passwd|disable|enable|list`."""

from __future__ import annotations

import sys
from datetime import date

import click

from tracker.cli.common import AS_OF, clear_errors, fail, open_app


def register(main: click.Group) -> None:
    main.add_command(web_cmd)
    main.add_command(user)


@click.command("web")
@click.option("--listen", help="HOST:PORT to listen on (default: [web] listen, 127.0.0.1:8080).")
@click.option(
    "--as-of",
    "as_of",
    type=AS_OF,
    help="Show the slots' states as of this date instead of today (said on every page).",
)
@click.pass_context
def web_cmd(ctx: click.Context, listen: str | None, as_of: date | None) -> None:
    """Serve the staff board (waitress) until stopped; put nginx in front for TLS."""
    from tracker.web.serve import parse_listen, serve

    app = open_app(ctx)
    host, port = app.config.web.host, app.config.web.port
    if listen:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            fail(f"--listen: {exc}")
    with clear_errors():
        if as_of is not None:
            click.echo(f"board: slot states as of {as_of.isoformat()} (--as-of), not today")
        serve(app, host, port, as_of=as_of)


@click.group()
def user() -> None:
    """People who log in to the board: a clerk sees and acts, a viewer only sees."""


def _read_password(stdin: bool) -> str:
    if stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            fail("--password-stdin: no password on standard input")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["clerk", "viewer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a board user NAME with a role (clerk acts, viewer only sees)."""
    from tracker.users import UserError, add_user

    app = open_app(ctx)
    password = _read_password(password_stdin)
    try:
        with app.db.session() as s:
            add_user(s, name, role, password, app.clock().now())
    except UserError as exc:
        fail(str(exc), 1)
    click.echo(f"user {name} added ({role})")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set NAME's password (their open sessions end)."""
    from tracker.users import UserError, set_password

    app = open_app(ctx)
    password = _read_password(password_stdin)
    try:
        with app.db.session() as s:
            set_password(s, name, password)
    except UserError as exc:
        fail(str(exc), 1)
    click.echo(f"password of {name} changed")


@user.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@click.pass_context
def user_disable(ctx: click.Context, name: str, enable: bool) -> None:
    """Stop NAME from logging in (their open sessions end); --enable undoes it."""
    from tracker.users import UserError, set_active

    app = open_app(ctx)
    try:
        with app.db.session() as s:
            set_active(s, name, enable)
    except UserError as exc:
        fail(str(exc), 1)
    click.echo(f"user {name} {'enabled' if enable else 'disabled'}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """The board's users: name, role, enabled, last login."""
    from tracker.users import list_users

    app = open_app(ctx)
    tz = app.config.timezone
    with app.db.session() as s:
        users = list_users(s)
        if not users:
            click.echo("no users yet: report-intake user add NAME --role clerk")
        for u in users:
            last = (
                u.last_login_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                if u.last_login_at
                else "-"
            )
            state = "enabled" if u.active else "disabled"
            click.echo(f"{u.name}\t{u.role}\t{state}\tlast login {last}")

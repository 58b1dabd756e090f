"""Service commands: `run` (the daemon) and `check-config` (registered on the main group)."""

from __future__ import annotations

import sys

import click

from tracker.cli.common import clear_errors, open_app


def register(main: click.Group) -> None:
    main.add_command(run_cmd)
    main.add_command(check_config)


@click.command("run")
@click.pass_context
def run_cmd(ctx: click.Context) -> None:
    """Run the service until SIGTERM: poll the mailbox (IMAP IDLE where offered), send
    reminders, the weekly digest and the outbox on schedule. For systemd (Type=notify)."""
    from tracker.config import find_config_path, load_config
    from tracker.daemon import Daemon
    from tracker.logs import setup_service_logging

    obj = ctx.ensure_object(dict)
    with clear_errors():
        config = load_config(find_config_path(obj.get("config_path")))
    # secrets masked from the first line on
    setup_service_logging(
        config.log_level,
        (config.mailbox.password, config.smtp.password),
        verbose=bool(obj.get("verbose")),
    )
    app = open_app(ctx)
    sys.exit(Daemon(app).run())


@click.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Check the config, roster, database, mailbox login and SMTP login, one line each;
    exit 0 only when every step passes."""
    from tracker.check import check_all

    ok = True
    for step in check_all(ctx.ensure_object(dict).get("config_path")):
        click.echo(step.line)
        ok = ok and step.ok
    sys.exit(0 if ok else 1)

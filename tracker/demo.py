"""The demo: a throwaway workspace (SQLite, a Maildir of sample reports) run through the
real pipeline, so a new user sees what report-intake does without any server."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tracker.app import App
from tracker.samples import write_maildir

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-board-2023"

ROSTER = Path(__file__).parent / "data" / "roster.example.toml"

DEMO_CONFIG = """\
# Demo workspace made by `report-intake demo`. Delete the folder when done.
[office]
timezone = "Asia/Shanghai"
addresses = ["xtxgov@126.com"]

[mailbox]
type = "maildir"
path = "Maildir"

[storage]
dir = "data"

[roster]
file = "roster.toml"
"""


@dataclass
class DemoWorkspace:
    root: Path
    config: Path
    maildir: Path
    samples: list[str]


def make_workspace(root: Path) -> DemoWorkspace:
    """Create (or recreate) the demo workspace in `root`."""
    if root.exists():
        if not (root / "demo.toml").exists() and any(root.iterdir()):
            raise FileExistsError(
                f"{root} exists and is not a demo workspace; choose another --dir"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "demo.toml").write_text(DEMO_CONFIG, encoding="utf-8")
    shutil.copyfile(ROSTER, root / "roster.toml")
    names = write_maildir(root / "Maildir")
    return DemoWorkspace(root, root / "demo.toml", root / "Maildir", names)


def default_as_of() -> date:
    return date(2023, 6, 30)


def open_demo(ws: DemoWorkspace) -> App:
    return App.from_path(ws.config)


def serve_board(
    app: App, ws: DemoWorkspace, as_of: date, listen: str, console: Any, command: str
) -> None:
    """Serve the staff board over the demo workspace, as of `as_of`, with a demo clerk,
    until Enter or Ctrl-C. Without a terminal on stdin (CI, a pipe) it only says how."""
    import sys
    import threading

    from tracker.clock import FixedClock
    from tracker.pollstate import note_poll
    from tracker.users import add_user
    from tracker.web.serve import make_server, parse_listen

    clock = FixedClock.at_date(as_of, app.config.timezone)
    with app.db.session() as s:
        add_user(s, DEMO_USER, "clerk", DEMO_PASSWORD, clock.now())
    note_poll(app.db, clock.now(), 0, 0)  # the demo's poll, on the board's (demo) clock
    again = f"{command} --config {ws.config} web --as-of {as_of.isoformat()}"
    if not sys.stdin.isatty():
        console.print(
            f"\nStaff board: not served (no terminal to stop it from). Serve it with: {again}"
            f"\n  and log in as {DEMO_USER} / {DEMO_PASSWORD}",
            markup=False,
            highlight=False,
        )
        return
    host, port = parse_listen(listen)
    try:
        server: Any = make_server(app, host, port, clock=clock)
    except OSError:
        server = make_server(app, host, 0, clock=clock)  # busy: any free port
    port = int(server.effective_port)
    thread = threading.Thread(target=server.run, name="board", daemon=True)
    thread.start()
    console.print(
        f"\nStaff board (as of {as_of.isoformat()}): http://{host}:{port}/"
        f"\n  user: {DEMO_USER}   password: {DEMO_PASSWORD}"
        "\nPress Enter (or Ctrl-C) to stop.",
        markup=False,
        highlight=False,
    )
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.readline()
    server.close()
    console.print(f"Board stopped. Serve it again with: {again}", markup=False, highlight=False)

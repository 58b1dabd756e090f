"""The demo: a throwaway workspace (SQLite, a Maildir of sample reports) run through the
real pipeline, so a new user sees what report-intake does without any server."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tracker.app import App
from tracker.samples import write_maildir

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

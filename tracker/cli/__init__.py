"""The `report-intake` command line (click + rich): `entry` is the entry point."""

import os

from tracker.cli.main import main

__all__ = ["entry", "main"]


def entry() -> None:
    """The console script: files the command line creates (the database, stored mail,
    exports) are readable by their owner only, as under the systemd unit (UMask=0077)."""
    os.umask(0o077)
    main()

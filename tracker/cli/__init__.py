"""The `report-intake` command line (click + rich): `main` is the entry point."""

from tracker.cli.main import main

__all__ = ["main"]

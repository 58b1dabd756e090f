"""`python -m tracker.cli`: the same as the `report-intake` command."""

from tracker.cli import entry

entry()

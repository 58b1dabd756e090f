"""The one way commands print: no wrapping of lines, and tables as wide as they need
when the output is a file or a pipe rather than a terminal (rich would squeeze them to 80
columns and cut the units' names)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 200


def printer() -> Console:
    from rich.console import Console  # only commands that print tables load rich

    out = Console(soft_wrap=True)
    if out.is_terminal or "COLUMNS" in os.environ:
        return out
    return Console(soft_wrap=True, width=PIPE_WIDTH)

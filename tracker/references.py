"""The 登记编号 a unit (and a clerk) quotes for one recorded mail.

Stable and short: the campaign's prefix and the message's row id, e.g. ``BS2023-0042``.
The prefix is the roster's `[campaign] code` when set, else ``BS`` (报送) with the first
year in the campaign's name. The row id never changes, so the number in a receipt, the
digest, `show` and the workbook is always the same one.
"""

from __future__ import annotations

import re
from typing import Protocol

DEFAULT_PREFIX = "BS"
_YEAR = re.compile(r"(?:19|20)\d\d")


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


def campaign_prefix(campaign: _HasName | None) -> str:
    """The prefix of every 登记编号 of `campaign` (`code`, else BS + its year)."""
    if campaign is None:
        return DEFAULT_PREFIX
    code = str(getattr(campaign, "code", "") or "").strip()
    if code:
        return code
    year = _YEAR.search(campaign.name or "")
    return DEFAULT_PREFIX + (year.group() if year else "")


def reference(message_id: int, campaign: _HasName | None = None) -> str:
    """The 登记编号 of message row `message_id`: ``BS2023-0042``."""
    return f"{campaign_prefix(campaign)}-{message_id:04d}"

"""Links from mail into the staff board (`[web] base_url`): each review item, unit and
report of the digest gets the address of its page. Without a base_url there are none."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tracker.config import WebConfig


def message_link(web: WebConfig, message_id: int) -> str:
    return web.link(f"/messages/{int(message_id)}")


def unit_link(web: WebConfig, unit: str) -> str:
    return web.link(f"/units/{quote(unit, safe='')}")


def add_board_links(ctx: dict[str, Any], web: WebConfig) -> None:
    """Put `link` on the digest context's rows (reports, review, units) and the board's
    addresses (`board_url`, `review_url`); "" everywhere when base_url is not set."""
    ctx["board_url"] = web.link("/")
    ctx["review_url"] = web.link("/review")
    for r in ctx.get("reports", []):
        r["link"] = message_link(web, r["id"])
    for m in ctx.get("review", []):
        m["link"] = message_link(web, m["id"])
    for key in ("month_rows", "overdue_rows", "no_address"):
        for row in ctx.get(key, []):
            row["link"] = unit_link(web, row["unit"])
    for group in ctx.get("ytd", []):
        for row in group["rows"]:
            row["link"] = unit_link(web, row["unit"])

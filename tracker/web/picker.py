"""Which campaign the board shows, and as of which day.

`?campaign=NAME` picks one campaign (its `[campaign] name`); without it the board shows the
campaigns active on the day, as `status` does. The pick is kept across the board's own links
and forms (a URL default for every page and action), so a clerk who picked 2023 stays in
2023. `report-intake web --as-of DATE` fixes "today" for the slots' states; every page then
says so."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import Flask, abort, current_app, g, request, url_for

from tracker.roster import Campaign, Roster
from tracker.slots import chosen_campaigns
from tracker.web.context import clock, ri

AS_OF_KEY = "report_intake_as_of"


def fixed_as_of() -> date | None:
    """The day given with `web --as-of`, or None (then today)."""
    day: date | None = current_app.extensions.get(AS_OF_KEY)
    return day


def as_of() -> date:
    """ "Today" for the board's states: `--as-of`, else the clock's today."""
    return fixed_as_of() or clock().today()


def picked() -> str | None:
    """The campaign picked with `?campaign=` (checked in `install`), or None."""
    key: str | None = g.get("campaign")
    return key


def picked_roster() -> Roster:
    """The roster of the picked campaign, or the whole roster."""
    key = picked()
    return ri().roster.only([key]) if key else ri().roster


def shown_campaigns() -> list[str] | None:
    """The campaigns whose slots the pages show: the picked one, else those active on the
    day (None: a one-campaign roster, no filter)."""
    roster = ri().roster
    overdue = max(ri().config.reminders.overdue_after, default=0)
    return chosen_campaigns(roster, as_of(), picked(), overdue)


def current_campaign() -> Campaign:
    """The campaign named in titles: the picked one, or the one shown; with several shown,
    their names together (2023年政务公开主题日、2023年政务公开专项)."""
    roster = ri().roster
    keys = shown_campaigns() or []
    parts = [p for p in roster.parts if p.campaign.key in keys]
    if len(parts) > 1:
        return replace(parts[-1].campaign, name="、".join(p.campaign.name for p in parts))
    return parts[-1].campaign if parts else roster.campaign


def several_shown() -> bool:
    """Whether the pages show the slots of more than one campaign (then each row says which)."""
    return len(shown_campaigns() or []) > 1


def campaign_names() -> list[str]:
    """Every campaign of the roster, oldest first (the picker shows them when several)."""
    return [p.campaign.key for p in ri().roster.parts]


def picker_url(key: str) -> str:
    """This page with `key` picked ("": the active campaigns)."""
    return url_for(str(request.endpoint), **(request.view_args or {}), campaign=key)


def install(web: Flask, day: date | None) -> None:
    web.extensions[AS_OF_KEY] = day

    @web.before_request
    def _pick() -> None:
        key = (request.args.get("campaign") or "").strip()
        if key and ri().roster.part(key) is None:
            abort(404, description=f"没有名为“{key[:60]}”的活动。")
        g.campaign = key or None

    @web.url_defaults
    def _keep(endpoint: str, values: dict[str, Any]) -> None:
        if "campaign" in values:
            if not values["campaign"]:
                values.pop("campaign")  # the picker's "active campaigns" link
            return
        key = g.get("campaign") if g else None
        if key and endpoint.startswith(("pages.", "actions.")):
            values["campaign"] = key

    web.jinja_env.globals.update(
        campaign=current_campaign,
        campaign_names=campaign_names,
        picked_campaign=picked,
        picker_url=picker_url,
        several_shown=several_shown,
        fixed_as_of=fixed_as_of,
    )

"""The pages staff see (GET only): overview, review queue, a message, a unit, the outbox,
the history of staff actions, and the export."""

from __future__ import annotations

import io
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, render_template, request, send_file
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from tracker import audit
from tracker.models import Message, Unit
from tracker.outgoing.digest import STATE_LABELS
from tracker.pollstate import last_poll
from tracker.roster import Campaign, period_of
from tracker.users import ROLE_LABELS
from tracker.web import data
from tracker.web.context import clock, ri, session, viewer
from tracker.web.picker import as_of, picked, picked_roster, shown_campaigns

bp = Blueprint("pages", __name__)

DECISION_LABELS = {"matched": "已匹配", "review": "待核", "ignored": "已忽略"}
KIND_LABELS = {"report": "报送", "liaison": "联络员回执", "other": "其他"}
OUTBOX_KINDS = {
    "receipt": "回执",
    "reminder": "提醒",
    "digest": "周报",
    "alert": "系统提醒",
}
OUTBOX_STATES = {
    "pending": "待发送",
    "sending": "发送中",
    "delivering": "发送中",
    "uncertain": "可能已发出",
    "sent": "已发送",
    "failed": "发送失败",
    "cancelled": "已取消",
}


def install_filters(web: Flask) -> None:
    def local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if dt is None:
            return ""
        return dt.astimezone(ri().config.timezone).strftime(fmt)

    def size(n: int | None) -> str:
        if not n:
            return ""
        if n < 1024:
            return f"{n} B"
        if n < 1024 * 1024:
            return f"{n / 1024:.0f} KB"
        return f"{n / 1024 / 1024:.1f} MB"

    def month(period: str | None) -> str:
        if not period:
            return ""
        try:
            y, m = period_of(period)
        except ValueError:
            return period
        return f"{y}年{m}月"

    web.jinja_env.filters.update(local=local, size=size, month=month)
    web.jinja_env.globals.update(
        state_labels=STATE_LABELS,
        decision_labels=DECISION_LABELS,
        kind_labels=KIND_LABELS,
        action_labels=audit.ACTION_LABELS,
        role_labels=ROLE_LABELS,
        outbox_kinds=OUTBOX_KINDS,
        outbox_states=OUTBOX_STATES,
        describe_state=audit.describe_message_state,
        viewer=viewer,
        can_inline=data.can_inline,
    )

    @web.context_processor
    def _common() -> dict[str, Any]:
        v = viewer()
        if v is None:
            return {"review_total": 0}
        example = next((u.name for u in ri().roster.units if u.kind == "department"), "")
        with session() as s:
            return {"review_total": data.review_count(s), "unit_example": example}


def _month(msg: Message) -> str:
    return msg.received_at.astimezone(ri().config.timezone).strftime("%Y-%m")


def unit_names() -> list[str]:
    return [u.name for u in ri().roster.units]


def period_choices(*extra: str | None) -> list[str]:
    """The months a report can be for: the (picked) campaign's, plus the mails' own guesses
    and arrival months."""
    periods = set(picked_roster().periods())
    periods.update(p for p in extra if p)
    return sorted(periods)


@bp.route("/")
def overview() -> str:
    app = ri()
    today = as_of()
    keys = shown_campaigns()
    with session() as s:
        ctx = data.overview(s, app.roster.only(keys), today, app.config.timezone, keys)
        poll = last_poll(s)
    return render_template(
        "overview.html",
        today=today,
        poll=poll,
        now=clock().now(),
        state_cell=data.state_cell,
        **ctx,
    )


@bp.route("/review")
def review() -> str:
    app = ri()
    with session() as s:
        msgs = data.review_messages(s)
        items = [
            {
                "msg": m,
                "body": data.body_text(app.config.storage_dir, m),
                "files": data.files_of(m),
            }
            for m in msgs
        ]
        return render_template(
            "review.html",
            items=items,
            unit_names=unit_names(),
            periods=period_choices(*(m.period for m in msgs), *(_month(m) for m in msgs)),
        )


@bp.route("/messages/<int:message_id>")
def message(message_id: int) -> str:
    app = ri()
    with session() as s:
        msg = s.scalar(data.messages_query().where(Message.id == message_id))
        if msg is None:
            abort(404, description=f"没有编号为 {message_id} 的邮件。")
        return render_template(
            "message.html",
            msg=msg,
            body=data.body_text(app.config.storage_dir, msg),
            files=data.files_of(msg),
            history=audit.history(s, message_id=msg.id),
            unit_names=unit_names(),
            periods=period_choices(msg.period, _month(msg)),
            slots=[sub.slot for sub in msg.submissions],
        )


@bp.route("/units/<name>")
def unit(name: str) -> str:
    app = ri()
    with session() as s:
        u = s.scalar(select(Unit).where(Unit.name == name).options(selectinload(Unit.addresses)))
        if u is None:
            abort(404, description="名单中没有这个单位。")
        ctx = data.unit_page(
            s, app.roster, u, as_of(), app.config.timezone, campaigns=shown_campaigns()
        )
        return render_template(
            "unit.html",
            kind_label=app.roster.jurisdiction.kind_label(u.kind),
            history=audit.history(s, unit_id=u.id, limit=50),
            periods=period_choices(*(st.period for st in ctx["slots"])),
            all_periods=_year_months(ctx["slots"]),
            several=len(app.roster.parts) > 1,
            **ctx,
        )


def _year_months(slots: list[Any]) -> list[str]:
    years = sorted({st.period[:4] for st in slots}) or [str(as_of().year)]
    return [f"{y}-{m:02d}" for y in years for m in range(1, 13)]


@bp.route("/outbox")
def outbox() -> str:
    with session() as s:
        return render_template("outbox.html", groups=data.outbox_rows(s))


@bp.route("/history")
def history() -> str:
    with session() as s:
        return render_template("history.html", rows=audit.history(s, limit=300))


@bp.route("/export")
def export() -> str:
    periods = picked_roster().periods()
    years = sorted({int(p[:4]) for p in periods}) or [as_of().year]
    return render_template("export.html", years=years)


def _export_campaign(year: int) -> tuple[Campaign, list[str] | None]:
    """The campaign a year's export is titled by, and the campaigns whose slots it holds:
    the picked one (`?campaign=`), else every campaign of that year."""
    roster = picked_roster()
    of_year = [p for p in roster.parts if any(m[:4] == f"{year:04d}" for m in p.periods())]
    camp = of_year[-1].campaign if of_year else roster.campaign
    key = picked()
    return camp, ([key] if key else None)


def _export_year() -> int:
    years = sorted({int(p[:4]) for p in picked_roster().periods()}) or [as_of().year]
    year = request.args.get("year", type=int) or years[0]
    if year not in years:
        abort(404, description="没有这一年的报送安排。")
    return year


@bp.route("/export.xlsx")
def export_file() -> Response:
    """The year's workbook (tracker.export), as a download."""
    from tracker.export import export_year

    app = ri()
    year = _export_year()
    camp, keys = _export_campaign(year)
    name = camp.name or "报送情况"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.xlsx"
        with session() as s:
            export_year(
                s,
                year=year,
                as_of=as_of(),
                tz=app.config.timezone,
                out=out,
                campaign=camp,
                campaigns=keys,
            )
        payload = out.read_bytes()
    return send_file(
        io.BytesIO(payload),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{name}-{year}年报送情况.xlsx",
    )


@bp.route("/export.zip")
def export_zip() -> Response:
    """The year's evidence (workbook, photos and write-ups by unit and month) as one zip,
    built in a temporary file first (it can be large) and then sent."""
    from tracker.evidence_files import write_year_zip

    app = ri()
    year = _export_year()
    camp, keys = _export_campaign(year)
    name = camp.name or "报送情况"
    tmp = tempfile.TemporaryFile()  # noqa: SIM115  (send_file closes it after the response)
    try:
        with session() as s:
            write_year_zip(
                s,
                app.store,
                tmp,
                year=year,
                as_of=as_of(),
                tz=app.config.timezone,
                campaign=camp,
                campaigns=keys,
            )
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise
    return send_file(
        tmp,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{name}-{year}年报送材料.zip",
    )

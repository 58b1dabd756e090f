"""What staff do (POST only, clerks only, CSRF-checked by `auth`): each view reads its
form, calls one function of `tracker.staff`, and redirects back with a message."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, request, url_for
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from tracker import staff
from tracker.unitnames import split_names
from tracker.web.auth import safe_next
from tracker.web.context import clock, ri, session, who

bp = Blueprint("actions", __name__)


def _back(default: str) -> Response:
    return redirect(safe_next(request.form.get("next"), default))


def _run(action: Callable[[], str], default: str) -> Response:
    try:
        flash(action(), "ok")
    except staff.StaffError as exc:
        flash(exc.zh, "error")
    return _back(default)


def _field(name: str, limit: int = 500) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def _campaign() -> str | None:
    """The campaign a form names (a slot form: its slot's; the assign form: the clerk's
    choice; the unassign form: the one the page showed the message counted in), else None: staff.* then takes the one campaign that fits, or refuses naming
    them. Never the page's picker: a report goes where its unit and month belong."""
    return _field("campaign", 200) or None


@bp.route("/messages/<int:message_id>/assign", methods=["POST"])
def assign(message_id: int) -> Response:
    shared: list[str] = []  # the slot already had a report: said after the outcome

    def act() -> str:
        units = split_names(request.form.getlist("unit"))
        period = _field("period", 7)
        kind = _field("kind", 10) or "report"
        with session() as s:
            msg = staff.assign(
                s,
                ri().roster,
                message_id,
                units,
                period,
                clock().now(),
                kind=kind,
                note=_field("note"),
                by=who(),
                config=ri().config,  # the unit's receipt, sent by the service's outbox
                campaign=_campaign(),
            )
            names = "、".join(mu.unit.name for mu in msg.units)
            shared.extend(sh.zh() for sh in staff.shared_slots(s, ri().roster, msg))
        return f"#{message_id} 已指定为 {names} {period}。"

    response = _run(act, url_for("pages.message", message_id=message_id))
    for line in shared:
        flash(line, "warn")
    return response


@bp.route("/messages/<int:message_id>/ignore", methods=["POST"])
def ignore(message_id: int) -> Response:
    def act() -> str:
        with session() as s:
            staff.ignore(s, ri().roster, message_id, clock().now(), _field("note"), by=who())
        return f"#{message_id} 已确认为非报送邮件。"

    return _run(act, url_for("pages.message", message_id=message_id))


@bp.route("/messages/<int:message_id>/unassign", methods=["POST"])
def unassign(message_id: int) -> Response:
    def act() -> str:
        with session() as s:
            staff.unassign(
                s,
                ri().roster,
                message_id,
                clock().now(),
                _field("note"),
                by=who(),
                campaign=_campaign(),  # the campaign the page showed it counted in
            )
        return f"#{message_id} 已退回待核。"

    return _run(act, url_for("pages.message", message_id=message_id))


@bp.route("/messages/<int:message_id>/remember", methods=["POST"])
def remember(message_id: int) -> Response:
    def act() -> str:
        with session() as s:
            address = staff.remember_sender(
                s, ri().roster, message_id, _field("unit", 200), clock().now(), by=who()
            )
        return f"已记住 {address} 为该单位的地址。"

    return _run(act, url_for("pages.message", message_id=message_id))


@bp.route("/units/<name>/excuse", methods=["POST"])
def excuse(name: str) -> Response:
    undo = _field("undo", 5) == "1"

    def act() -> str:
        period = _field("period", 7)
        with session() as s:
            staff.excuse(
                s,
                ri().roster,
                name,
                period,
                _field("note"),
                undo,
                by=who(),
                now=clock().now(),
                campaign=_campaign(),
            )
        return f"{name} {period} 已{'取消免报' if undo else '免报'}。"

    return _run(act, url_for("pages.unit", name=name))


@bp.route("/units/<name>/reschedule", methods=["POST"])
def reschedule(name: str) -> Response:
    def act() -> str:
        period, to_period = _field("period", 7), _field("to_period", 7)
        with session() as s:
            staff.reschedule(
                s,
                ri().roster,
                name,
                period,
                to_period,
                clock().now(),
                note=_field("note"),
                by=who(),
                campaign=_campaign(),
            )
        return f"{name} 的活动月份已由 {period} 调整为 {to_period}。"

    return _run(act, url_for("pages.unit", name=name))


@bp.route("/units/<name>/addresses/<op>", methods=["POST"])
def address(name: str, op: str) -> Response:
    actions = {
        "add": (staff.add_address, "已添加"),
        "confirm": (staff.confirm_address, "已确认"),
        "remove": (staff.remove_address, "已删除"),
    }
    if op not in actions:
        abort(404)
    func, done = actions[op]

    def act() -> str:
        with session() as s:
            unit, addr = func(s, ri().roster, name, _field("address", 320), clock().now(), by=who())
        return f"{unit}：{addr} {done}。"

    return _run(act, url_for("pages.unit", name=name))


@bp.route("/history/<int:audit_id>/undo", methods=["POST"])
def undo(audit_id: int) -> Response:
    def act() -> str:
        with session() as s:
            row = staff.undo(s, ri().roster, audit_id, clock().now(), by=who())
            return row.summary

    return _run(act, url_for("pages.history"))

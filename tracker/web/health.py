"""GET /healthz: 200 "ok" when the database answers (no login); the body says how long ago
the mailbox was last read and whether polling is failing."""

from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tracker.pollstate import last_poll
from tracker.web.context import clock, session

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> Response:
    try:
        with session() as s:
            s.execute(text("SELECT 1"))
            info = last_poll(s)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).splitlines()[0][:200]
        return Response(f"database unreachable: {reason}\n", 503, mimetype="text/plain")
    lines = ["ok", "database ok"]
    if info.at is None:
        lines.append("last poll: never")
    else:
        age = int((clock().now() - info.at).total_seconds())
        lines.append(f"last poll: {age} s ago ({info.at.isoformat(timespec='seconds')})")
    if info.failures:
        lines.append(f"polling failing: {info.failures} in a row: {info.last_error or ''}")
    return Response("\n".join(lines) + "\n", 200, mimetype="text/plain")

"""When the mailbox was last read: kept in `service_state` ("poll:last") for the board's
overview and `/healthz`. Written after every successful intake pass (service and `poll`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tracker.db import Database
from tracker.models import ServiceState

STATE = "poll:last"
FAILING = "watch:poll"  # tracker.watch keeps the failure streak there


@dataclass(frozen=True)
class PollInfo:
    at: datetime | None
    new: int
    failures: int
    last_error: str | None


def note_poll(db: Database, now: datetime, new: int, in_review: int) -> None:
    with db.session() as s:
        value = {"at": now.isoformat(), "new": new, "in_review": in_review}
        row = s.get(ServiceState, STATE)
        if row is None:
            s.add(ServiceState(name=STATE, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now


def last_poll(s: Session) -> PollInfo:
    row = s.get(ServiceState, STATE)
    value = dict(row.value) if row is not None else {}
    failing = s.get(ServiceState, FAILING)
    fail = dict(failing.value) if failing is not None else {}
    at = datetime.fromisoformat(value["at"]) if value.get("at") else None
    return PollInfo(
        at, int(value.get("new", 0)), int(fail.get("failures", 0)), fail.get("last_error")
    )

"""What every view needs: the installation, the clock, the logged-in user, a session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy.orm import Session

from tracker.app import App
from tracker.clock import Clock


@dataclass(frozen=True)
class Viewer:
    id: int
    name: str
    role: str

    @property
    def can_act(self) -> bool:
        return self.role == "clerk"


def ri() -> App:
    app: App = current_app.extensions["report_intake"]
    return app


def clock() -> Clock:
    c: Clock = current_app.extensions["report_intake_clock"]
    return c


def viewer() -> Viewer | None:
    return g.get("viewer")


def who() -> str:
    v = viewer()
    return v.name if v else "?"


@contextmanager
def session() -> Iterator[Session]:
    with ri().db.session() as s:
        yield s

"""Serving the board with waitress (a pure-Python WSGI server), one listen address."""

from __future__ import annotations

import logging
import re
from datetime import date

from tracker.app import App
from tracker.clock import Clock

log = logging.getLogger(__name__)

_LISTEN = re.compile(r"^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$")


def parse_listen(value: str) -> tuple[str, int]:
    m = _LISTEN.match(value.strip())
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return m.group(1) or m.group(2), int(m.group(3))


def make_server(
    app: App, host: str, port: int, *, clock: Clock | None = None, as_of: date | None = None
) -> object:
    """A waitress server for the board, bound but not yet running (`.run()` serves)."""
    from waitress import create_server

    from tracker.web import create_app

    web = create_app(app, clock=clock, as_of=as_of)
    return create_server(
        web,
        host=host,
        port=port,
        threads=app.config.web.threads,
        ident="report-intake",
        clear_untrusted_proxy_headers=False,
    )


def serve(
    app: App, host: str, port: int, *, clock: Clock | None = None, as_of: date | None = None
) -> None:
    from tracker.config import ConfigError

    try:
        server = make_server(app, host, port, clock=clock, as_of=as_of)
    except OSError as exc:
        raise ConfigError(f"[web] listen: cannot listen on {host}:{port}: {exc.strerror}") from None
    log.info("board: serving on http://%s:%d/", host, port)
    if as_of is not None:
        log.info("board: slot states as of %s (--as-of), not today", as_of.isoformat())
    try:
        server.run()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        log.info("board: stopped")

"""The heartbeat outside the box: a Healthchecks-style server on loopback sees one ping per
good poll of real Dovecot and a /fail after a failed one; a dead ping server fails nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.dovecot import DovecotMailbox
from tests.service_helpers import report_mail, service_config
from tests.smtp_server import free_port
from tracker.app import App
from tracker.clock import Clock
from tracker.config import ConfigError, load_config
from tracker.heartbeat import ping
from tracker.jobs import JobFailed, Jobs


class PingServer:
    """A tiny HTTP server that answers 200 and remembers the paths it was asked for."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/ping/3f1c-check") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ping_server() -> Iterator[PingServer]:
    server = PingServer()
    yield server
    server.close()


def test_it_pings_after_each_good_poll_and_fail_after_a_failed_one(
    tmp_path: Path, dovecot: DovecotMailbox, ping_server: PingServer
) -> None:
    dovecot.append(report_mail("县林业局5月政务公开主题日活动"))
    config = service_config(tmp_path, dovecot, None, watch=f'heartbeat_url = "{ping_server.url()}"')
    app = App.from_path(config)
    jobs = Jobs(app, Clock(app.config.timezone))
    assert jobs.poll() is True  # the waiting mail
    assert jobs.poll() is False  # nothing new: still a good poll
    assert ping_server.seen == ["/ping/3f1c-check", "/ping/3f1c-check"]
    app.close()

    (tmp_path / "imap-password").write_text("wrong-code")
    app = App.from_path(config)
    jobs = Jobs(app, Clock(app.config.timezone))
    with pytest.raises(JobFailed, match="login"):
        jobs.poll()
    assert ping_server.seen[2:] == ["/ping/3f1c-check/fail"]
    app.close()


def test_a_dead_heartbeat_server_fails_no_poll(tmp_path: Path, dovecot: DovecotMailbox) -> None:
    dead = f"http://127.0.0.1:{free_port()}/ping/x"
    config = service_config(tmp_path, dovecot, None, watch=f'heartbeat_url = "{dead}"')
    app = App.from_path(config)
    assert Jobs(app, Clock(app.config.timezone)).poll() is False
    assert ping(dead, ok=True, timeout=2) is False
    app.close()


def test_it_refuses_a_heartbeat_url_that_is_not_http(
    tmp_path: Path, dovecot: DovecotMailbox
) -> None:
    for bad in ("ftp://example.com/x", "hc-ping.com/uuid", "http:///nohost"):
        config = service_config(tmp_path, dovecot, None, watch=f'heartbeat_url = "{bad}"')
        with pytest.raises(ConfigError, match=r"\[watch\] heartbeat_url"):
            load_config(config)

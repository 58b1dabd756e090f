"""A real SMTP server for tests: aiosmtpd on loopback, collecting what it receives.

Import the fixtures into a test module: ``from tests.smtp_server import
smtp_server_fixture, smtp_factory_fixture  # noqa: F401`` (they register as
``smtp_server``, ``smtp_factory`` and ``tls_files``). ``smtp_server`` is a plain server; ``smtp_factory(**kw)``
starts others (implicit TLS, STARTTLS, login required). Outage helpers on the server:
``fail_next(n, "451 ...")`` answers DATA with an error for the next n messages,
``drop_next(n)`` cuts the connection at DATA, ``reject(address)`` refuses a recipient
with 550, ``stop()``/``start()`` take the whole server down and bring it back on the
same port.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    fail_count: int = 0
    fail_reply: str = "451 4.3.0 Temporary local problem, try again later"
    drop_count: int = 0
    pass_count: int = 0  # messages accepted before fail_count/drop_count apply
    rejected: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # called when a recipient is taken / a message is taken (before the 250 goes back):
    # a test kills the sending process there to crash it at that exact instant
    on_rcpt: Callable[[], None] | None = None
    on_data: Callable[[], None] | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.rejected:
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        if self.on_rcpt is not None:
            self.on_rcpt()
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.pass_count > 0 and (self.fail_count or self.drop_count):
                self.pass_count -= 1
                data = envelope.original_content or envelope.content
                self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), data))
                return "250 2.0.0 OK"
            if self.drop_count > 0:
                self.drop_count -= 1
                server.transport.close()
                return "421 4.4.2 Connection dropped"
            if self.fail_count > 0:
                self.fail_count -= 1
                return self.fail_reply
            data = envelope.original_content or envelope.content
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), data))
        if self.on_data is not None:
            self.on_data()
        return "250 2.0.0 OK"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """One aiosmtpd server on 127.0.0.1 with the outage switches."""

    def __init__(self, *, port: int | None = None, **kwargs: Any) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.kwargs = kwargs
        self.handler = _Handler()
        self._controller: Controller | None = None

    def start(self) -> None:
        kw = dict(self.kwargs)
        self._controller = Controller(self.handler, hostname=self.host, port=self.port, **kw)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def fail_next(
        self, n: int, reply: str = "451 4.3.0 Temporary local problem, try again later"
    ) -> None:
        with self.handler.lock:
            self.handler.fail_count, self.handler.fail_reply = n, reply

    def drop_next(self, n: int) -> None:
        with self.handler.lock:
            self.handler.drop_count = n

    def fail_after(self, accepted: int, n: int, reply: str | None = None) -> None:
        """Accept `accepted` more messages, then answer the next `n` with `reply`
        (default 451), or drop the connection when `reply` is "drop"."""
        with self.handler.lock:
            self.handler.pass_count = accepted
            if reply == "drop":
                self.handler.drop_count = n
            else:
                self.handler.fail_count = n
                if reply:
                    self.handler.fail_reply = reply

    def reject(self, address: str) -> None:
        self.handler.rejected.add(address.lower())

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session", name="tls_files")
def tls_files_fixture(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return TlsFiles(cert, key)


@pytest.fixture(name="smtp_factory")
def smtp_factory_fixture() -> Iterator[Callable[..., SmtpServer]]:
    servers: list[SmtpServer] = []

    def make(*, login: tuple[str, str] | None = None, **kwargs: Any) -> SmtpServer:
        if login is not None:
            kwargs.setdefault("authenticator", _Authenticator(*login))
            over_tls = "tls_context" in kwargs
            kwargs.setdefault("auth_require_tls", over_tls)
            kwargs.setdefault("auth_required", over_tls)
        server = SmtpServer(**kwargs)
        server.start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(name="smtp_server")
def smtp_server_fixture(smtp_factory: Callable[..., SmtpServer]) -> SmtpServer:
    return smtp_factory()

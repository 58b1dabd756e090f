"""The systemd notification protocol (sd_notify), spoken directly over NOTIFY_SOCKET.

A few lines instead of a dependency: each notification is one datagram of
newline-separated ``KEY=value`` fields sent to the unix socket systemd names in
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). Outside systemd
(no NOTIFY_SOCKET) every call is a no-op. Failures to send are logged once, never raised:
the service must not die because the supervisor's socket went away.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

STATUS_LIMIT = 200  # systemctl status shows one line; keep it readable


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address
        self._warned = False
        self.watchdog_seconds = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, **fields: str) -> bool:
        """Send one notification, e.g. ``send(READY="1", STATUS="...")``."""
        if not self.address:
            return False
        text = "\n".join(f"{k}={_one_line(v)}" for k, v in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self.address)
                s.sendall(text.encode("utf-8"))
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address, exc.strerror or exc)
                self._warned = True
            return False

    def ready(self, status: str) -> bool:
        return self.send(READY="1", STATUS=status[:STATUS_LIMIT], MAINPID=str(os.getpid()))

    def status(self, status: str) -> bool:
        return self.send(STATUS=status[:STATUS_LIMIT])

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING="1", STATUS=status[:STATUS_LIMIT])


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """Half the watchdog timeout systemd expects pings within (None: no watchdog)."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (we were started by a wrapper)
    return int(usec) / 1_000_000 / 2


def _one_line(value: str) -> str:
    return " ".join(str(value).split())

"""A real Dovecot IMAP server for tests.

Use as a pytest plugin (``pytest_plugins = ["tests.dovecot"]``) or import both fixtures
into a test module: ``from tests.dovecot import dovecot, dovecot_server  # noqa: F401``.

``dovecot_server`` (session scope) starts one Dovecot on a free loopback port with its own
configuration in a temporary directory (nothing under /etc/dovecot is read or touched).
``dovecot`` (function scope) gives each test a fresh user with an empty mailbox: a
:class:`DovecotMailbox` with ``host``, ``port``, ``user``, ``password`` and helpers to append
mail, read server-side flags, change UIDVALIDITY, see the ID command and cut connections.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
INSTALL_HINT = (
    "Dovecot is not installed: run `apt-get install dovecot-imapd` (tests need /usr/sbin/dovecot)"
)

_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_location = maildir:~/Maildir
imap_id_log = *
auth_failure_delay = 0
protocol imap {{
  rawlog_dir = {root}/rawlog/%u
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _imap_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DovecotServer:
    """One running Dovecot instance; create users with :meth:`new_mailbox`."""

    def __init__(self) -> None:
        if not (os.path.exists(DOVECOT) and os.path.exists(DOVEADM)):
            pytest.fail(INSTALL_HINT, pytrace=False)
        self.host = "127.0.0.1"
        self.port = 0
        # pytest's tmp dirs are 0700; dovecot's unprivileged users must reach this one.
        self.root = Path(tempfile.mkdtemp(prefix="report-intake-dovecot-"))
        self.root.chmod(0o755)
        self.conf = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._users: list[tuple[str, str, Path]] = []
        self._counter = itertools.count(1)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("nobody")
            self.mail_uid, self.mail_gid = entry.pw_uid, entry.pw_gid
            login_user, internal_user, internal_group = "dovenull", "dovecot", "dovecot"
        else:  # unprivileged run (e.g. a CI runner): everything as the current user
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
        for sub in ("run", "state", "rawlog", "home"):
            (self.root / sub).mkdir(mode=0o755)
        self._conf_args = {
            "root": str(self.root),
            "login_user": login_user,
            "internal_user": internal_user,
            "internal_group": internal_group,
        }
        self._handed_out = 0
        self._add_user_block()
        self._passwd_written = 0.0  # written before Dovecot started: read at startup

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        last_error = ""
        for _attempt in range(3):
            self.port = _free_port()
            self.conf.write_text(_CONF.format(port=self.port, **self._conf_args))
            stderr = open(self.root / "stderr.log", "ab")  # noqa: SIM115 - closed in stop()
            self._stderr = stderr
            self._proc = subprocess.Popen(
                [DOVECOT, "-c", str(self.conf), "-F"], stdout=stderr, stderr=stderr
            )
            deadline = time.monotonic() + 15
            penalty_socket = self.root / "run" / "anvil-auth-penalty"
            penalty_removed = False
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                if not penalty_removed:
                    if not penalty_socket.exists():
                        time.sleep(0.02)
                        continue
                    # Without this socket the auth process (started by the first connection)
                    # skips the failed-login penalty, which would otherwise delay every login
                    # after a wrong-password test by seconds.
                    penalty_socket.unlink()
                    penalty_removed = True
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection((self.host, self.port), timeout=1) as s,
                ):
                    if s.recv(100).startswith(b"* OK"):
                        return
                time.sleep(0.05)
            last_error = self.diagnostics()
            self.stop(remove=False)
        self.stop()
        pytest.fail(f"Dovecot did not start on 127.0.0.1:\n{last_error}", pytrace=False)

    def stop(self, *, remove: bool = True) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
            self._stderr.close()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def diagnostics(self) -> str:
        """The server's log and stderr, for failure messages."""
        parts = []
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {path}\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts) or "(no Dovecot log written)"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- users -----------------------------------------------------------------------------
    # Dovecot re-reads a passwd-file at most once a second, so users are written ahead in
    # blocks; a test only waits when a block runs out.
    _BLOCK = 100

    def _add_user_block(self) -> None:
        for _ in range(self._BLOCK):
            n = next(self._counter)
            user = f"user{n}"
            self._users.append((user, f"pw-{n}-{os.urandom(6).hex()}", self.root / "home" / user))
        self._write_passwd()
        self._passwd_written = time.monotonic()

    def _write_passwd(self) -> None:
        lines = [
            f"{user}:{{PLAIN}}{password}:{self.mail_uid}:{self.mail_gid}::{home}\n"
            for user, password, home in self._users
        ]
        tmp = self.root / "passwd.tmp"
        tmp.write_text("".join(lines))
        tmp.chmod(0o644)
        os.replace(tmp, self.root / "passwd")  # new inode: Dovecot reloads the file

    def new_mailbox(self) -> DovecotMailbox:
        if self._handed_out == len(self._users):
            self._add_user_block()
        user, password, home = self._users[self._handed_out]
        self._handed_out += 1
        wait = self._passwd_written + 1.1 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        home.mkdir(mode=0o700)
        rawlog = self.root / "rawlog" / user
        rawlog.mkdir(mode=0o700)
        for path in (home, rawlog):
            os.chown(path, self.mail_uid, self.mail_gid)
        return DovecotMailbox(server=self, user=user, password=password, home=home)

    def doveadm(self, *args: str, ok_codes: Sequence[int] = (0,)) -> str:
        result = subprocess.run(
            [DOVEADM, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=30
        )
        if result.returncode not in ok_codes:
            raise AssertionError(
                f"doveadm {' '.join(args)} failed (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout


_FETCH_FLAGS = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)")


@dataclass
class DovecotMailbox:
    """One user's mailbox on the test server, empty when the test starts."""

    server: DovecotServer
    user: str
    password: str = field(repr=False)
    home: Path

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"

    # -- direct IMAP access (a separate admin connection) ----------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            typ, data = client.login(self.user, self.password)
            assert typ == "OK", data
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
        date: datetime | None = None,
    ) -> None:
        """APPEND one message (creating the folder if needed)."""
        with self.connect() as client:
            if folder.upper() != "INBOX":
                client.create(_imap_quote(folder))  # NO when it exists: fine
            typ, data = client.append(
                _imap_quote(folder),
                f"({' '.join(flags)})" if flags else None,
                date or datetime.now(UTC),
                raw,
            )
            assert typ == "OK", data

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.connect() as client:
            typ, data = client.select(_imap_quote(folder), readonly=True)
            assert typ == "OK", data
            typ, data = client.uid("SEARCH", "ALL")
            assert typ == "OK", data
            return sorted(int(x) for x in (data[0] or b"").split())

    def flags(self, uid: int, folder: str = "INBOX") -> set[str]:
        """Server-side flags of one message (without \\Recent)."""
        return self.all_flags(folder)[uid]

    def all_flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        with self.connect() as client:
            typ, data = client.select(_imap_quote(folder), readonly=True)
            assert typ == "OK", data
            typ, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
            assert typ == "OK", data
            result: dict[int, set[str]] = {}
            for item in data:
                if not isinstance(item, bytes):
                    continue
                m = _FETCH_FLAGS.search(item)
                if m:
                    uid = int(m.group(1) or m.group(4))
                    names = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
                    result[uid] = {f for f in names.split() if f != "\\Recent"}
            return result

    def folders(self) -> list[str]:
        with self.connect() as client:
            typ, data = client.list()
            assert typ == "OK", data
            names = []
            for line in data:
                if isinstance(line, bytes):
                    names.append(line.rsplit(b" ", 1)[-1].strip(b'"').decode())
            return names

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.connect() as client:
            typ, data = client.status(_imap_quote(folder), "(UIDVALIDITY)")
            assert typ == "OK", data
            m = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            assert m, data
            return int(m.group(1))

    def change_uidvalidity(self) -> int:
        """Make Dovecot assign INBOX a new UIDVALIDITY (messages get new UIDs from 1).

        Removes the uid list and the index files while the server runs, as happens when a
        provider rebuilds a mailbox. Returns the new UIDVALIDITY, checked to differ.
        """
        before = self.uidvalidity()
        self.kick()
        for path in [self.maildir / "dovecot-uidlist", *self.maildir.glob("dovecot.index*")]:
            path.unlink(missing_ok=True)
        after = self.uidvalidity()
        assert after != before, f"UIDVALIDITY did not change ({before})"
        return after

    # -- what the server saw ---------------------------------------------------------------
    def id_log(self) -> list[str]:
        """Dovecot's ``ID sent: name=...`` log lines for this user (empty: no ID command)."""
        marker = f"imap({self.user})"
        return [
            line.split("ID sent: ", 1)[1]
            for line in self.server.log().splitlines()
            if marker in line and "ID sent: " in line
        ]

    def commands(self) -> list[list[str]]:
        """Client commands per post-login session (rawlog), oldest session first.

        Each command is its upper-cased verb, with ``UID`` joined to the next word
        (``"UID FETCH"``). LOGIN happens before the rawlog starts, so it is not listed.
        """
        started: list[tuple[float, str, list[str]]] = []
        for path in (self.server.root / "rawlog" / self.user).glob("*.in"):
            verbs: list[str] = []
            tag_prefix: str | None = None
            lines = path.read_bytes().decode(errors="replace").splitlines()
            # file names hold the second and the pid only: order by the first timestamp
            first = lines[0].split(" ", 1)[0] if lines else ""
            start = float(first) if re.fullmatch(r"\d+\.\d+", first) else 0.0
            for line in lines:
                # "<timestamp> <tag> <VERB> ...": tags share a prefix and count up, which
                # tells commands from the lines of an APPENDed message
                words = line.split()
                m = re.fullmatch(r"([A-Za-z]*)\d+", words[1]) if len(words) >= 3 else None
                if m is None or (tag_prefix is not None and m.group(1) != tag_prefix):
                    continue
                if tag_prefix is None:
                    tag_prefix = m.group(1)
                verb = words[2].upper()
                if verb == "UID" and len(words) >= 4:
                    verb = f"UID {words[3].upper()}"
                verbs.append(verb)
            started.append((start, path.name, verbs))
        return [verbs for _, _, verbs in sorted(started)]

    def kick(self) -> None:
        """Cut every live IMAP connection of this user (``doveadm kick``)."""
        self.server.doveadm("kick", self.user, ok_codes=(0, 68))  # 68: nobody was connected
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            out = self.server.doveadm("who", "-1", self.user)
            if self.user not in out:
                return
            time.sleep(0.05)


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def dovecot(dovecot_server: DovecotServer) -> DovecotMailbox:
    """A fresh user with an empty mailbox on the shared test Dovecot."""
    return dovecot_server.new_mailbox()

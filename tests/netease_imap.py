"""A tiny loopback IMAP server that behaves like NetEase (126/163) where Dovecot cannot.

LOGIN succeeds, but SELECT answers ``NO SELECT Unsafe Login. Please contact kefu@188.com for
help`` unless the client sent the RFC 2971 ID command first on that connection. With
``advertise_id=False`` it does not list ID and drops the connection on any unknown command
(as some servers do), so a client must look at CAPABILITY before sending ID.

Only what ImapSource uses is implemented: CAPABILITY, LOGIN, ID, SELECT/EXAMINE, STATUS,
UID SEARCH (UID n:*), UID FETCH (UID, FLAGS, RFC822.SIZE, INTERNALDATE, BODY.PEEK[]),
UID STORE, UID COPY, LIST, CREATE, NOOP, LOGOUT. There is no MOVE, as on NetEase.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

UNSAFE_LOGIN = b"NO SELECT Unsafe Login. Please contact kefu@188.com for help"
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|([^\s()]+)')


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)
    internal_date: datetime = field(
        default_factory=lambda: datetime(2023, 5, 20, 9, 30, tzinfo=UTC)
    )


def _tokens(data: bytes) -> list[bytes]:
    out = []
    for m in _TOKEN.finditer(data):
        if m.group(1) is not None:
            out.append(re.sub(rb"\\(.)", rb"\1", m.group(1)))
        else:
            out.append(m.group(2) or m.group(3))
    return out


def _uids_in(spec: bytes, existing: list[int]) -> list[int]:
    top = max(existing, default=0)
    chosen: set[int] = set()
    for part in spec.split(b","):
        if b":" in part:
            a, b = part.split(b":", 1)
            lo = top if a == b"*" else int(a)
            hi = top if b == b"*" else int(b)
            lo, hi = min(lo, hi), max(lo, hi)  # "n:*" with n > top means top:n (RFC 3501)
            chosen.update(u for u in existing if lo <= u <= hi)
        else:
            u = top if part == b"*" else int(part)
            if u in existing:
                chosen.add(u)
    return sorted(chosen)


class NeteaseImapServer:
    def __init__(
        self,
        user: str = "xtxgov@126.com",
        password: str = "AUTHCODE16CHARS1",
        *,
        advertise_id: bool = True,
        announce_keywords: bool = True,
        refuse_keywords: bool = False,
    ) -> None:
        self.user = user
        self.password = password
        self.advertise_id = advertise_id
        # announce_keywords: PERMANENTFLAGS lists \* (keywords may be created);
        # refuse_keywords: STORE of a keyword answers NO (whatever was announced)
        self.announce_keywords = announce_keywords
        self.refuse_keywords = refuse_keywords
        self.folders: dict[str, list[bytes]] = {}  # other folders: name -> copied raw mails
        self.uidvalidity = 1700000000
        self.messages: dict[int, StoredMessage] = {}
        self.commands: list[str] = []  # every command verb received, in order, all connections
        self.id_fields: list[bytes] = []  # the raw ID argument of each ID command
        self.lock = threading.Lock()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer._session(self)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.host = "127.0.0.1"
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> NeteaseImapServer:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, raw: bytes) -> int:
        with self.lock:
            uid = max(self.messages, default=0) + 1
            self.messages[uid] = StoredMessage(uid, raw)
            return uid

    @property
    def capabilities(self) -> bytes:
        caps = b"IMAP4rev1 XLIST SPECIAL-USE UIDPLUS LITERAL+ SASL-IR AUTH=LOGIN"
        return caps + (b" ID" if self.advertise_id else b"")

    # -- one connection --------------------------------------------------------------------
    def _session(self, h: socketserver.StreamRequestHandler) -> None:
        def send(line: bytes) -> None:
            h.wfile.write(line + b"\r\n")

        send(b"* OK Coremail System IMap Server Ready(126com[test])")
        authed = id_sent = False
        selected = False
        while True:
            line = h.rfile.readline()
            if not line:
                return
            parts = line.rstrip(b"\r\n").split(b" ", 2)
            if len(parts) < 2:
                send(b"* BAD invalid command")
                continue
            tag, verb = parts[0], parts[1].upper()
            rest = parts[2] if len(parts) > 2 else b""
            if verb == b"UID":
                sub, _, rest = rest.partition(b" ")
                verb = b"UID " + sub.upper()
            with self.lock:
                self.commands.append(verb.decode())
            if verb == b"CAPABILITY":
                send(b"* CAPABILITY " + self.capabilities)
                send(tag + b" OK CAPABILITY completed")
            elif verb == b"NOOP":
                send(tag + b" OK NOOP completed")
            elif verb == b"LOGOUT":
                send(b"* BYE IMAP4rev1 Server logging out")
                send(tag + b" OK LOGOUT completed")
                return
            elif verb == b"LOGIN":
                args = _tokens(rest)
                if (
                    len(args) == 2
                    and args[0].decode() == self.user
                    and args[1].decode() == self.password
                ):
                    authed = True
                    send(tag + b" OK LOGIN completed")
                else:
                    send(tag + b" NO LOGIN Login error password error")
            elif verb == b"ID" and self.advertise_id:
                with self.lock:
                    self.id_fields.append(rest)
                id_sent = True
                send(b'* ID ("name" "Coremail Imap" "vendor" "Haitai" "TransID" "test")')
                send(tag + b" OK ID completed")
            elif not authed and verb in (b"SELECT", b"EXAMINE", b"STATUS", b"LIST", b"CREATE"):
                send(tag + b" BAD not authenticated")
            elif verb in (b"SELECT", b"EXAMINE"):
                if self.advertise_id and not id_sent:
                    send(tag + b" " + UNSAFE_LOGIN)
                    continue
                selected = True
                with self.lock:
                    count = len(self.messages)
                    nxt = max(self.messages, default=0) + 1
                send(b"* %d EXISTS" % count)
                send(b"* 0 RECENT")
                send(b"* OK [UIDVALIDITY %d] UID validity status" % self.uidvalidity)
                send(b"* OK [UIDNEXT %d] Predicted next UID" % nxt)
                send(b"* FLAGS (\\Answered \\Seen \\Deleted \\Draft \\Flagged)")
                perm = b"\\Answered \\Seen \\Deleted \\Draft \\Flagged"
                perm += b" \\*" if self.announce_keywords else b""
                send(b"* OK [PERMANENTFLAGS (" + perm + b")] Limited")
                send(tag + b" OK [READ-WRITE] SELECT completed")
            elif verb == b"STATUS":
                send(b'* STATUS "INBOX" (UIDVALIDITY %d)' % self.uidvalidity)
                send(tag + b" OK STATUS completed")
            elif verb == b"LIST":
                args = _tokens(rest)
                pattern = args[1].decode() if len(args) > 1 else "*"
                with self.lock:
                    names = ["INBOX", *self.folders]
                for name in names:
                    if pattern in ("*", name):
                        send(b'* LIST () "/" "' + name.encode() + b'"')
                send(tag + b" OK LIST completed")
            elif verb == b"CREATE":
                folder = _tokens(rest)[0].decode()
                with self.lock:
                    exists = folder in self.folders
                    self.folders.setdefault(folder, [])
                send(tag + (b" NO [ALREADYEXISTS] exists" if exists else b" OK CREATE completed"))
            elif verb.startswith(b"UID ") and not selected:
                send(tag + b" BAD no mailbox selected")
            elif verb == b"UID SEARCH":
                m = re.search(rb"UID ([0-9*:,]+)", rest)
                with self.lock:
                    found = (
                        _uids_in(m.group(1), sorted(self.messages)) if m else sorted(self.messages)
                    )
                send(b"* SEARCH" + b"".join(b" %d" % u for u in found))
                send(tag + b" OK SEARCH completed")
            elif verb == b"UID FETCH":
                self._fetch(h, tag, rest)
            elif verb == b"UID COPY":
                spec, _, rest2 = rest.partition(b" ")
                (target,) = _tokens(rest2)
                with self.lock:
                    if target.decode() not in self.folders:
                        send(tag + b" NO [TRYCREATE] no such folder")
                        continue
                    for uid in _uids_in(spec, sorted(self.messages)):
                        self.folders[target.decode()].append(self.messages[uid].raw)
                send(tag + b" OK COPY completed")
            elif verb == b"UID STORE":
                spec, _, rest2 = rest.partition(b" ")
                flags = re.search(rb"\(([^)]*)\)", rest2)
                names = flags.group(1).decode().split() if flags else []
                if self.refuse_keywords and any(not f.startswith("\\") for f in names):
                    send(tag + b" NO [CANNOT] keywords are not supported")
                    continue
                with self.lock:
                    for uid in _uids_in(spec, sorted(self.messages)):
                        if flags:
                            self.messages[uid].flags.update(flags.group(1).decode().split())
                send(tag + b" OK STORE completed")
            elif self.advertise_id:
                send(tag + b" BAD command not support")
            else:
                return  # drop the connection on anything unknown

    def _fetch(self, h: socketserver.StreamRequestHandler, tag: bytes, rest: bytes) -> None:
        spec, _, items = rest.partition(b" ")
        want_body = b"BODY.PEEK[]" in items.upper() or b"BODY[]" in items.upper()
        with self.lock:
            chosen = [self.messages[u] for u in _uids_in(spec, sorted(self.messages))]
        for msg in chosen:
            seq = sorted(self.messages).index(msg.uid) + 1
            date = msg.internal_date.strftime("%d-%b-%Y %H:%M:%S +0000").encode()
            head = b'* %d FETCH (UID %d RFC822.SIZE %d INTERNALDATE "%s" FLAGS (%s)' % (
                seq,
                msg.uid,
                len(msg.raw),
                date,
                " ".join(sorted(msg.flags)).encode(),
            )
            if want_body:
                h.wfile.write(head + b" BODY[] {%d}\r\n" % len(msg.raw) + msg.raw + b")\r\n")
            else:
                h.wfile.write(head + b")\r\n")
        h.wfile.write(tag + b" OK FETCH completed\r\n")

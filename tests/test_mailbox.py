"""intake.mailbox against a real Dovecot, a local Maildir and a NetEase-like IMAP server."""

from __future__ import annotations

import imaplib
import json
import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted
from imap_tools.errors import MailboxFolderSelectError

from intake.mailbox import (
    SIDECAR,
    FetchedMail,
    ImapSettings,
    ImapSource,
    MailboxError,
    MaildirSource,
)
from tests.dovecot import DovecotMailbox
from tests.netease_imap import UNSAFE_LOGIN, NeteaseImapServer


def mail(n: int, body: bytes = b"") -> bytes:
    return (
        b"From: =?gb2312?B?z+XMts/YwdLStb7W?= <lyj@example.cn>\r\n"
        b"To: xtxgov@126.com\r\n"
        b"Subject: report %d\r\n"
        b"Message-ID: <m%d@example.cn>\r\n"
        b"\r\n"
        b"body %d\r\n" % (n, n, n)
    ) + body


def settings(box: DovecotMailbox, **over: object) -> ImapSettings:
    values: dict[str, object] = {
        "host": box.host,
        "port": box.port,
        "security": "none",
        "username": box.user,
        "password": box.password,
        "id_support_email": "office@example.cn",
    }
    values.update(over)
    return ImapSettings(**values)  # type: ignore[arg-type]


def fetch_all(
    src: ImapSource | MaildirSource, last: int = 0, batch: int = 50, max_bytes: int = 10_000_000
) -> list[FetchedMail]:
    return list(src.fetch_since(last, batch=batch, max_bytes=max_bytes))


# -- IMAP against Dovecot --------------------------------------------------------------------


def test_incremental_polling_returns_each_mail_once(dovecot: DovecotMailbox) -> None:
    for n in (1, 2, 3):
        dovecot.append(mail(n), date=datetime(2023, 5, 20, 9, n, tzinfo=UTC))
    with ImapSource(settings(dovecot)) as src:
        first = fetch_all(src)
        assert [m.raw for m in first] == [mail(1), mail(2), mail(3)]
        assert [m.uid for m in first] == sorted(m.uid for m in first)
        assert first[0].internal_date == datetime(2023, 5, 20, 9, 1, tzinfo=UTC)
        assert first[0].size == len(mail(1)) and not first[0].too_large
        dovecot.append(mail(4))
        dovecot.append(mail(5))
        second = fetch_all(src, last=first[-1].uid)
    assert [m.raw for m in second] == [mail(4), mail(5)]
    assert min(m.uid for m in second) > first[-1].uid


def test_uid_range_above_newest_returns_nothing(dovecot: DovecotMailbox) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2))
    newest = max(dovecot.uids())
    # the server really does answer "n:*" with the newest mail when n is above it
    with dovecot.connect() as raw:
        raw.select("INBOX")
        assert raw.uid("SEARCH", f"UID {newest + 1}:*")[1][0].split() == [str(newest).encode()]
    with ImapSource(settings(dovecot)) as src:
        assert fetch_all(src, last=newest) == []
        assert fetch_all(src, last=newest + 5) == []
        assert [m.raw for m in fetch_all(src, last=newest - 1)] == [mail(2)]


def test_fetch_in_batches_in_ascending_order(dovecot: DovecotMailbox) -> None:
    for n in range(1, 8):
        dovecot.append(mail(n))
    with ImapSource(settings(dovecot)) as src:
        got = fetch_all(src, batch=3)
    assert [m.raw for m in got] == [mail(n) for n in range(1, 8)]
    session = next(s for s in dovecot.commands() if "UID SEARCH" in s)
    # 3 batches (3 + 3 + 1), each one metadata and one body fetch
    assert session.count("UID FETCH") == 6


def test_bodies_arrive_a_few_at_a_time_within_a_batch(
    dovecot: DovecotMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's bodies come in runs of at most FETCH_BYTES (so analysis starts before the
    whole batch is down), in UID order, with a mail over the cap in its place, unfetched."""
    import intake.mailbox as mailbox

    monkeypatch.setattr(mailbox, "FETCH_BYTES", 2_500)
    mails = [mail(n, b"y" * 1_000 + b"\r\n") for n in range(1, 7)]
    big = mail(7, b"x" * 50_000 + b"\r\n")
    for m in [*mails[:3], big, *mails[3:]]:
        dovecot.append(m)
    with ImapSource(settings(dovecot)) as src:
        seen = []
        for fetched in src.fetch_since(0, batch=50, max_bytes=10_000):
            seen.append(fetched)
            if len(seen) == 1:  # the first mail is in hand before the last is asked for
                assert 1 < dovecot_fetches(dovecot) < 4
    assert [(m.raw, m.too_large) for m in seen] == [
        *[(m, False) for m in mails[:3]],
        (b"", True),
        *[(m, False) for m in mails[3:]],
    ]
    # one metadata fetch, then six mails of ~1.1 KB in runs of two: three body fetches
    assert dovecot_fetches(dovecot) == 4


def dovecot_fetches(box: DovecotMailbox) -> int:
    session = next(s for s in box.commands() if "UID SEARCH" in s)
    return session.count("UID FETCH")


def test_mail_above_size_cap_is_reported_not_downloaded(dovecot: DovecotMailbox) -> None:
    big = mail(2, b"x" * 50_000 + b"\r\n")
    dovecot.append(mail(1))
    dovecot.append(big)
    dovecot.append(mail(3))
    with ImapSource(settings(dovecot)) as src:
        got = fetch_all(src, max_bytes=10_000)
    assert [(m.raw, m.too_large) for m in got] == [(mail(1), False), (b"", True), (mail(3), False)]
    assert got[1].size == len(big)
    assert got[1].internal_date is not None
    # the big one was never asked for in full
    rawlog = "".join(
        p.read_text(errors="replace")
        for p in (dovecot.server.root / "rawlog" / dovecot.user).glob("*.in")
    )
    body_sets = re.findall(r"UID FETCH ([0-9,:*]+) \(UID BODY\.PEEK\[\]\)", rawlog)
    assert body_sets == [f"{got[0].uid},{got[2].uid}"]


def test_fetching_does_not_mark_seen(dovecot: DovecotMailbox) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2), flags=("\\Flagged",))
    with ImapSource(settings(dovecot)) as src:
        assert len(fetch_all(src)) == 2
    assert dovecot.all_flags() == {1: set(), 2: {"\\Flagged"}}


def test_id_command_sent_after_login_and_before_select(dovecot: DovecotMailbox) -> None:
    dovecot.append(mail(1))
    with ImapSource(settings(dovecot)) as src:
        assert src.id_sent
        assert src.uidvalidity() == dovecot.uidvalidity()
    (line,) = dovecot.id_log()
    assert "name=report-intake" in line
    assert "vendor=report-intake" in line
    assert "support-email=office@example.cn" in line
    (session,) = [s for s in dovecot.commands() if "SELECT" in s]
    assert session.index("CAPABILITY") < session.index("ID") < session.index("SELECT")


def test_mark_recorded_sets_seen_and_keyword_and_deletes_nothing(dovecot: DovecotMailbox) -> None:
    for n in (1, 2, 3):
        dovecot.append(mail(n))
    with ImapSource(settings(dovecot)) as src:
        got = fetch_all(src)
        src.mark_recorded([got[0].uid, got[2].uid])
    flags = dovecot.all_flags()
    assert flags == {
        got[0].uid: {"\\Seen", "$Recorded"},
        got[1].uid: set(),
        got[2].uid: {"\\Seen", "$Recorded"},
    }
    session = next(s for s in dovecot.commands() if "UID STORE" in s)
    assert "EXPUNGE" not in session and "CLOSE" not in session


def test_after_record_none_leaves_the_mailbox_alone(dovecot: DovecotMailbox) -> None:
    dovecot.append(mail(1))
    with ImapSource(settings(dovecot, after_record="none")) as src:
        src.mark_recorded([m.uid for m in fetch_all(src)])
    assert dovecot.all_flags() == {1: set()}


def test_move_mode_creates_the_folder_and_moves(dovecot: DovecotMailbox) -> None:
    for n in (1, 2, 3):
        dovecot.append(mail(n))
    assert "Recorded" not in dovecot.folders()
    with ImapSource(settings(dovecot, after_record="move", move_to="Recorded")) as src:
        got = fetch_all(src)
        src.mark_recorded([got[0].uid, got[1].uid])
        # a second move into the now existing folder works too
        src.mark_recorded([got[2].uid])
    assert "Recorded" in dovecot.folders()
    assert dovecot.uids() == []
    with ImapSource(settings(dovecot, folder="Recorded", after_record="none")) as moved:
        assert [m.raw for m in fetch_all(moved)] == [mail(1), mail(2), mail(3)]


def test_uidvalidity_change_is_visible(dovecot: DovecotMailbox) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2))
    src = ImapSource(settings(dovecot))
    src.open()
    before = src.uidvalidity()
    src.close()
    after = dovecot.change_uidvalidity()
    src.open()
    try:
        assert src.uidvalidity() == after != before
        assert [m.raw for m in fetch_all(src)] == [mail(1), mail(2)]
    finally:
        src.close()


def _assert_readable(err: MailboxError, password: str) -> str:
    text = str(err)
    assert "\n" not in text
    assert password not in text
    assert err.__cause__ is None and err.__suppress_context__
    return text


def test_wrong_password_gives_one_readable_line(dovecot: DovecotMailbox) -> None:
    src = ImapSource(settings(dovecot, password="wrong-secret-9f3a"))
    with pytest.raises(MailboxError) as info:
        src.open()
    text = _assert_readable(info.value, "wrong-secret-9f3a")
    assert text.startswith(f"imap login failed for {dovecot.user}@127.0.0.1:{dovecot.port}: NO ")
    assert "Authentication failed" in text


def test_connection_refused_gives_one_readable_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        src = ImapSource(ImapSettings("127.0.0.1", port, "none", "u@x.cn", "topsecret"))
        with pytest.raises(MailboxError) as info:
            src.uidvalidity()
    text = _assert_readable(info.value, "topsecret")
    assert text == f"imap connection failed for u@x.cn@127.0.0.1:{port}: Connection refused"


def test_tls_failure_gives_one_readable_line(dovecot: DovecotMailbox) -> None:
    # Dovecot here speaks plain IMAP: an SSL client fails the handshake
    src = ImapSource(settings(dovecot, security="ssl", timeout=5.0))
    with pytest.raises(MailboxError) as info:
        src.open()
    text = _assert_readable(info.value, dovecot.password)
    assert text.startswith("imap TLS handshake failed for ")


def test_starttls_refused_by_a_plain_server_gives_one_readable_line(
    dovecot: DovecotMailbox,
) -> None:
    src = ImapSource(settings(dovecot, security="starttls"))
    with pytest.raises(MailboxError) as info:
        src.open()
    text = _assert_readable(info.value, dovecot.password)
    assert text == (
        f"imap STARTTLS failed for {dovecot.user}@127.0.0.1:{dovecot.port}: "
        "TLS not supported by server"
    )


def test_missing_folder_gives_one_readable_line(dovecot: DovecotMailbox) -> None:
    with pytest.raises(MailboxError) as info:
        ImapSource(settings(dovecot, folder="Nope")).open()
    text = _assert_readable(info.value, dovecot.password)
    assert text.startswith("imap select of folder 'Nope' failed for ")
    assert "NO " in text


def test_reconnect_after_connections_are_cut(dovecot: DovecotMailbox) -> None:
    dovecot.append(mail(1))
    src = ImapSource(settings(dovecot))
    src.open()
    first = fetch_all(src)
    dovecot.kick()
    dovecot.append(mail(2))
    with pytest.raises(MailboxError) as info:
        fetch_all(src, last=first[-1].uid)
    text = _assert_readable(info.value, dovecot.password)
    assert "connection lost" in text
    # the same source reconnects on the next call, and a new one works as well
    assert [m.raw for m in fetch_all(src, last=first[-1].uid)] == [mail(2)]
    src.mark_recorded([first[0].uid])
    src.close()
    with ImapSource(settings(dovecot)) as fresh:
        assert [m.raw for m in fetch_all(fresh)] == [mail(1), mail(2)]
    assert dovecot.flags(first[0].uid) == {"\\Seen", "$Recorded"}


def test_settings_validate_and_hide_the_password() -> None:
    s = ImapSettings("imap.126.com", 993, "ssl", "xtxgov@126.com", "AUTHCODE-XYZ")
    assert "AUTHCODE-XYZ" not in repr(s)
    assert ImapSource(s).key == "imap://xtxgov@126.com@imap.126.com:993/INBOX"
    with pytest.raises(ValueError, match="security"):
        ImapSettings("h", 1, "tls", "u", "p")
    with pytest.raises(ValueError, match="after_record"):
        ImapSettings("h", 1, "ssl", "u", "p", after_record="delete")


# -- NetEase-like server ---------------------------------------------------------------------


def test_netease_refuses_select_without_id() -> None:
    with NeteaseImapServer() as server:
        server.add(mail(1))
        box = MailBoxUnencrypted(server.host, server.port, timeout=5)
        with pytest.raises(MailboxFolderSelectError) as info:
            box.login(server.user, server.password)  # selects INBOX straight away
        assert UNSAFE_LOGIN.decode().removeprefix("NO ") in str(info.value)
        box.logout()


def test_imap_source_works_against_a_netease_like_server() -> None:
    with NeteaseImapServer() as server:
        for n in (1, 2, 3):
            server.add(mail(n))
        s = ImapSettings(
            server.host,
            server.port,
            "none",
            server.user,
            server.password,
            id_support_email="office@example.cn",
        )
        with ImapSource(s) as src:
            assert src.uidvalidity() == server.uidvalidity
            got = fetch_all(src, batch=2)
            src.mark_recorded([got[0].uid])
        assert [m.raw for m in got] == [mail(1), mail(2), mail(3)]
        assert got[0].internal_date == datetime(2023, 5, 20, 9, 30, tzinfo=UTC)
        assert (
            server.commands.index("LOGIN")
            < server.commands.index("ID")
            < server.commands.index("SELECT")
        )
        assert b'"support-email" "office@example.cn"' in server.id_fields[0]
        assert server.messages[1].flags == {"\\Seen", "$Recorded"}
        assert server.messages[2].flags == set()


def test_no_id_command_when_the_server_does_not_list_it() -> None:
    # this server drops the connection on any command it does not know, ID included
    with NeteaseImapServer(advertise_id=False) as server:
        server.add(mail(1))
        s = ImapSettings(server.host, server.port, "none", server.user, server.password)
        with ImapSource(s) as src:
            assert not src.id_sent
            assert [m.raw for m in fetch_all(src)] == [mail(1)]
        assert "ID" not in server.commands


@pytest.mark.parametrize("announce", [True, False], ids=["refused-at-store", "not-announced"])
def test_seen_only_when_the_server_takes_no_keywords(announce: bool) -> None:
    with NeteaseImapServer(announce_keywords=announce, refuse_keywords=True) as server:
        for n in (1, 2):
            server.add(mail(n))
        s = ImapSettings(server.host, server.port, "none", server.user, server.password)
        with ImapSource(s) as src:
            got = fetch_all(src)
            src.mark_recorded([got[0].uid])
            src.mark_recorded([got[1].uid])
        assert server.messages[1].flags == {"\\Seen"}
        assert server.messages[2].flags == {"\\Seen"}
        # refused once at most: the second call goes straight to \Seen
        assert server.commands.count("UID STORE") == (3 if announce else 2)


def test_move_without_move_support_copies_and_flags_never_deletes() -> None:
    with NeteaseImapServer() as server:
        for n in (1, 2):
            server.add(mail(n))
        s = ImapSettings(
            server.host, server.port, "none", server.user, server.password, after_record="move"
        )
        with ImapSource(s) as src:
            src.mark_recorded([m.uid for m in fetch_all(src)])
        assert server.folders == {"Recorded": [mail(1), mail(2)]}
        assert sorted(server.messages) == [1, 2]
        assert all(m.flags == {"\\Seen", "$Recorded"} for m in server.messages.values())
        assert "EXPUNGE" not in server.commands and "UID MOVE" not in server.commands


def test_netease_wrong_authorisation_code() -> None:
    with NeteaseImapServer() as server:
        s = ImapSettings(server.host, server.port, "none", server.user, "web-password-1")
        with pytest.raises(MailboxError) as info:
            ImapSource(s).open()
    text = _assert_readable(info.value, "web-password-1")
    assert (
        text
        == f"imap login failed for xtxgov@126.com@127.0.0.1:{server.port}: NO LOGIN Login error password error"
    )


# -- Maildir ---------------------------------------------------------------------------------


def make_maildir(root: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    return root


def deliver(md: Path, name: str, raw: bytes, when: int, sub: str = "new") -> Path:
    path = md / sub / name
    path.write_bytes(raw)
    os.utime(path, (when, when))
    return path


def test_maildir_stable_uids_and_incremental_fetch(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Maildir")
    deliver(md, "1700000002.M2P1.host", mail(2), 1_700_000_002)
    deliver(md, "1700000001.M1P1.host", mail(1), 1_700_000_001)
    deliver(md, "1700000003.M3P1.host:2,F", mail(3), 1_700_000_003, sub="cur")
    src = MaildirSource(md)
    src.open()
    assert src.key == f"maildir:{md}"
    got = fetch_all(src)
    assert [(m.uid, m.raw) for m in got] == [(1, mail(1)), (2, mail(2)), (3, mail(3))]
    assert got[0].internal_date == datetime.fromtimestamp(1_700_000_001, UTC)
    uv = src.uidvalidity()
    src.close()

    deliver(md, "1700000004.M4P1.host", mail(4), 1_700_000_004)
    again = MaildirSource(md)
    assert again.uidvalidity() == uv
    assert [(m.uid, m.raw) for m in fetch_all(again, last=3)] == [(4, mail(4))]
    assert fetch_all(again, last=4) == []
    state = json.loads((md / SIDECAR).read_text())
    assert state["uidvalidity"] == uv and state["next_uid"] == 5
    assert not list(md.glob(SIDECAR + ".*")), "no temporary sidecar left behind"


def test_maildir_mark_recorded_moves_to_cur_with_seen_flag(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Maildir")
    deliver(md, "1.M1.host", mail(1), 1_700_000_001)
    deliver(md, "2.M2.host", mail(2), 1_700_000_002)
    deliver(md, "3.M3.host:2,RF", mail(3), 1_700_000_003, sub="cur")
    src = MaildirSource(md)
    got = fetch_all(src)
    src.mark_recorded([got[0].uid, got[2].uid])
    assert sorted(p.name for p in (md / "new").iterdir()) == ["2.M2.host"]
    assert sorted(p.name for p in (md / "cur").iterdir()) == ["1.M1.host:2,S", "3.M3.host:2,FRS"]
    assert (md / "cur" / "1.M1.host:2,S").read_bytes() == mail(1)
    # uids survive the rename
    assert [(m.uid, m.raw) for m in fetch_all(MaildirSource(md))] == [
        (1, mail(1)),
        (2, mail(2)),
        (3, mail(3)),
    ]


def test_maildir_none_mode_and_deleted_mail_never_reuses_a_uid(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Maildir")
    first = deliver(md, "1.M1.host", mail(1), 1_700_000_001)
    src = MaildirSource(md, after_record="none")
    (one,) = fetch_all(src)
    src.mark_recorded([one.uid])
    assert first.exists()
    first.unlink()
    deliver(md, "2.M2.host", mail(2), 1_700_000_002)
    assert [(m.uid, m.raw) for m in fetch_all(src)] == [(2, mail(2))]


def test_maildir_size_cap(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Maildir")
    deliver(md, "1.M1.host", mail(1, b"y" * 5000), 1_700_000_001)
    (got,) = fetch_all(MaildirSource(md), max_bytes=1000)
    assert got.too_large and got.raw == b"" and got.size == len(mail(1, b"y" * 5000))


def test_maildir_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match=r"is not a Maildir: new/ is missing"):
        MaildirSource(tmp_path).open()
    md = make_maildir(tmp_path / "Maildir")
    (md / SIDECAR).write_text("{not json")
    with pytest.raises(MailboxError, match=r"\.report-intake-uids is damaged"):
        MaildirSource(md).open()
    with pytest.raises(ValueError, match="after_record"):
        MaildirSource(md, after_record="move")


def test_imaplib_knows_the_id_command() -> None:
    assert imaplib.Commands["ID"] == ("NONAUTH", "AUTH", "SELECTED")

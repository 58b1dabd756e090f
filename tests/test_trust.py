"""Addresses and senders, tried as an attacker would: strict addresses, a bad liaison
address that once blinded every reminder, a malformed From, the fake liaison form, the
spoofed report, learnt addresses dropped with their mail, receipt floods, replies to our
own mail. Mail goes through the real pipeline (a Maildir, and Dovecot where the mailbox
matters), a real SMTP server and real databases."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from intake.addresses import BadAddress, base_address, check_address
from intake.mailbox import ImapSettings, ImapSource, MaildirSource, MailSource
from intake.store import AttachmentStore
from tests.dovecot import DovecotMailbox
from tests.mail_helpers import Env, make_env
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.addressbook import (
    AddressError,
    add_address,
    confirm_address,
    list_addresses,
    remove_address,
)
from tracker.app import App
from tracker.cli import main
from tracker.clock import SHANGHAI, FixedClock
from tracker.db import open_database
from tracker.hooks import receipt_hook
from tracker.models import Message, MessageUnit, Outbox, Submission, Unit, UnitAddress
from tracker.outgoing.digest import make_digest
from tracker.outgoing.mailer import SmtpMailer
from tracker.outgoing.outbox import deliver_pending
from tracker.outgoing.reminders import send_reminders
from tracker.recording import Recorder
from tracker.roster import load_roster
from tracker.samples import photo
from tracker.slots import slot_states, sync_roster
from tracker.staff import assign, ignore

BAD_LIAISON = "x@evil.test<y@evil.test>"


def local(day: date, hh: int = 10) -> datetime:
    return datetime.combine(day, time(hh), tzinfo=SHANGHAI)


def mail(
    sender: str,
    subject: str,
    body: str = "我单位于本月开展了政务公开主题日活动，现报送活动图片。",
    *,
    date_header: str = "Tue, 16 May 2023 10:00:00 +0800",
    photo_seed: int | None = 1,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = date_header
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    if photo_seed is not None:
        msg.add_attachment(photo(photo_seed), maintype="image", subtype="jpeg", filename="活动.jpg")
    return msg.as_bytes()


def liaison_mail(sender: str, unit: str, email: str) -> bytes:
    body = (
        f"联络员信息如下：\n单位名称：{unit}\n姓名：王芳\n性别：女\n职务：办公室副主任\n"
        f"办公电话：0731-57225566\n手机：13975212345\n电子邮箱：{email}\n"
    )
    return mail(sender, "联络员信息", body, photo_seed=None)


class Box:
    """A Maildir that mail is delivered into at a given time (its delivery time)."""

    def __init__(self, env: Env) -> None:
        assert env.config.mailbox.path is not None
        self.path = env.config.mailbox.path
        self.n = 0

    def deliver(self, raw: bytes, when: datetime) -> None:
        self.n += 1
        ts = int(when.timestamp())
        path = self.path / "new" / f"{ts}.M{self.n}P1.test"
        path.write_bytes(raw)
        os.utime(path, (ts, ts))

    def source(self) -> MailSource:
        return MaildirSource(self.path)


def poll(env: Env, box: Box, clock: FixedClock) -> None:
    app = App(env.config)
    app.__dict__["db"] = env.db  # the test's handle (the roster is synced already)
    app.recorder(clock, on_recorded=receipt_hook(app, clock)).poll_once(box.source())


def addresses_of(env: Env, unit: str) -> dict[str, str]:
    with env.db.session() as s:
        return {i.address: i.status for i in list_addresses(s, env.roster, unit)}


# --- strict addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    ["hkz.xtx@example.com", "A.B+tag@Sub.Example.COM", "1000123456@qq.com", "x@xn--fiqs8s.cn"],
)
def test_plain_addresses_pass(good: str) -> None:
    assert check_address(good) == good.lower()


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (BAD_LIAISON, "one @"),
        ("x@evil.test>", "not allowed in the domain"),
        ("a b@example.com", "not allowed before the @"),
        ('"quoted"@example.com', "not allowed before the @"),
        ("x@example.com\r\nBcc: y@example.com", "one @"),
        ("x@exam\nple.com", "not allowed in the domain"),
        (" X@Example.com\r\n", None),
        ("x@localhost", "needs a dot"),
        ("x@1.2.3.4", "bare IP"),
        ("x..y@example.com", "misplaced dot"),
        ("x@-example.com", "hyphen"),
        ("a" * 65 + "@example.com", "local part too long"),
        ("x@" + "a" * 300 + ".com", "too long"),
        ("x" * 100_000, "too long"),
        ("王芳@example.com", "not allowed before the @"),
        ("", "empty"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(bad: str, why: str | None) -> None:
    if why is None:  # surrounding white space (a pasted form field) is trimmed, not kept
        assert check_address(bad) == "x@example.com"
        return
    with pytest.raises(BadAddress, match=why):
        check_address(bad)


def test_plus_tags_fold_to_one_mailbox() -> None:
    assert base_address("Victim+ad1@Example.org") == "victim@example.org"
    assert base_address("+x@example.org") == "+x@example.org"


# --- blinding and breaking -------------------------------------------------------------------


def test_a_bad_liaison_address_blinds_no_reminder(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    box.deliver(liaison_mail("hk.clerk@163.com", "河口镇", BAD_LIAISON), local(date(2023, 4, 20)))
    poll(env, box, FixedClock(local(date(2023, 4, 20), 11)))
    with env.db.session() as s:
        msg = s.scalars(select(Message)).one()
        assert (msg.kind, msg.decision) == ("liaison", "matched")
        stored = set(s.scalars(select(UnitAddress.address)))
    assert not any("evil" in a for a in stored)
    assert addresses_of(env, "河口镇") == {"hkz.xtx@example.com": "confirmed",
                                          "hk.clerk@163.com": "learnt"}  # fmt: skip
    # an address stored before addresses were checked (an old database) blinds nothing
    with env.db.session() as s:
        ptx = s.scalars(select(Unit).where(Unit.name == "排头乡")).one()
        s.add(UnitAddress(unit_id=ptx.id, address=BAD_LIAISON, source="liaison",
                          status="confirmed", created_at=local(date(2023, 4, 1))))  # fmt: skip
    smtp_server.clear()
    rep = send_reminders(
        env.db, env.roster, env.config, FixedClock(local(date(2023, 5, 22), 9)),
        mailer=SmtpMailer(env.config.smtp),
    )  # fmt: skip
    assert rep.delivery is not None and rep.delivery.undelivered == 0
    may = {p.unit for p in rep.queued if p.period == "2023-05"}
    assert may == {"河口镇", "排头乡", "县林业局", "县消防救援大队"}
    rcpts = [r.rcpt_tos for r in smtp_server.received]
    assert all(len(r) == 1 for r in rcpts)  # one recipient per mail
    assert ("ptx.xtx@example.com",) in rcpts
    assert not any("evil" in a for r in rcpts for a in r)


def test_a_malformed_from_does_not_break_recording(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url)
    roster = load_roster(Path(__file__).resolve().parent.parent / "examples" / "roster.toml")
    with db.session() as s:
        sync_roster(s, roster)
    md = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (md / sub).mkdir(parents=True)
    froms = [
        b"From: " + BAD_LIAISON.encode(),
        b"From: <" + b"a" * 400 + b"@example.com>",
        b"From: =?utf-8?q?x=00y?= <nul\x00@example.com>",
        b"From: \xe7\x8e\x8b\xe8\x8a\xb3@163.com",
        b"From: lyj <lyj@exa mple.com>",
        b"From: lyj.xtx@example.com",
    ]
    for i, header in enumerate(froms, 1):
        raw = header + (
            b"\r\nTo: xtxgov@126.com\r\nSubject: 5\r\n"
            b"Date: Tue, 16 May 2023 10:00:00 +0800\r\n\r\nbody\r\n"
        )
        path = md / "new" / f"{1_684_200_000 + i}.M{i}P1.test"
        path.write_bytes(raw)
        os.utime(path, (1_684_200_000 + i, 1_684_200_000 + i))
    rec = Recorder(db, AttachmentStore(tmp_path / "store"), roster,
                   FixedClock(datetime(2023, 5, 16, 3, tzinfo=UTC)))  # fmt: skip
    report = rec.poll_once(MaildirSource(md))
    assert report.new == len(froms)
    with db.session() as s:
        rows = list(s.scalars(select(Message).order_by(Message.uid)))
        # the first reads as display name "x@evil.test" and address y@evil.test, the
        # fifth as the stdlib reads it (white space dropped); the others are refused
        got = [r.from_addr for r in rows]
        assert got == ["y@evil.test", "", "", "", "lyj@example.com", "lyj.xtx@example.com"]
        assert all("From address refused" in (r.parse_error or "") for r in rows[1:4])
        assert all(r.parse_error is None or "Traceback" not in r.parse_error for r in rows)
    db.dispose()


# --- learnt addresses ------------------------------------------------------------------------


def test_a_fake_liaison_form_gets_no_reminders_until_staff_confirm(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    box.deliver(
        liaison_mail("fake@evil.test", "河口镇", "fake2@evil.test"), local(date(2023, 4, 20))
    )
    poll(env, box, FixedClock(local(date(2023, 4, 20), 11)))
    assert addresses_of(env, "河口镇") == {
        "hkz.xtx@example.com": "confirmed", "fake@evil.test": "learnt",
        "fake2@evil.test": "learnt",
    }  # fmt: skip
    # the unit's own address was told that a form in its name came from a new address
    with env.db.session() as s:
        notices = list(s.scalars(select(Outbox).where(Outbox.kind == "sender-notice")))
    assert [n.recipients for n in notices] == [["hkz.xtx@example.com"]]
    # learnt addresses are no matching evidence either
    refs = {u.name: u for u in App(env.config).recorder().unit_refs()}
    assert "fake@evil.test" not in refs["河口镇"].emails
    mailer = SmtpMailer(env.config.smtp)
    smtp_server.clear()
    send_reminders(env.db, env.roster, env.config, FixedClock(local(date(2023, 5, 4), 9)),
                   mailer=mailer)  # fmt: skip
    to_hk = [r.rcpt_tos for r in smtp_server.received if "河口镇" in str(r.message["Subject"])]
    assert to_hk == [("hkz.xtx@example.com",)]
    # staff confirm one of them: from the next stage on it is reminded too
    with env.db.session() as s:
        info = confirm_address(s, env.roster, "河口镇", "FAKE2@evil.test", by="clerk",
                               now=local(date(2023, 5, 5)))  # fmt: skip
        assert (info.status, info.gets_reminders, info.confirmed_by) == ("confirmed", True, "clerk")
    smtp_server.clear()
    send_reminders(env.db, env.roster, env.config, FixedClock(local(date(2023, 5, 18), 9)),
                   mailer=mailer)  # fmt: skip
    to_hk = sorted(
        r.rcpt_tos for r in smtp_server.received if "河口镇" in str(r.message["Subject"])
    )
    assert to_hk == [("fake2@evil.test",), ("hkz.xtx@example.com",)]
    # and a report from the form's address is still a new sender's
    box.deliver(mail("fake@evil.test", "河口镇5月主题日活动"), local(date(2023, 5, 19)))
    poll(env, box, FixedClock(local(date(2023, 5, 19), 11)))
    with env.db.session() as s:
        report = s.scalars(select(Message).where(Message.kind == "report")).one()
        assert (report.decision, report.new_sender) == ("matched", True)
        notices = list(s.scalars(select(Outbox).where(Outbox.kind == "sender-notice")))
    # told to both confirmed addresses now (one mail each), never to the sender
    assert sorted(r for n in notices for r in n.recipients) == [
        "fake2@evil.test", "hkz.xtx@example.com", "hkz.xtx@example.com",
    ]  # fmt: skip


def test_learnt_addresses_are_reminded_only_when_the_unit_has_no_other(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    with env.db.session() as s:
        ptx = s.scalars(select(Unit).where(Unit.name == "排头乡")).one()
        for row in s.scalars(select(UnitAddress).where(UnitAddress.unit_id == ptx.id)):
            s.delete(row)
    box = Box(env)
    box.deliver(liaison_mail("ptx.clerk@163.com", "排头乡", "ptx.clerk@163.com"),
                local(date(2023, 4, 20)))  # fmt: skip
    poll(env, box, FixedClock(local(date(2023, 4, 20), 11)))
    rep = send_reminders(env.db, env.roster, env.config, FixedClock(local(date(2023, 5, 4), 9)),
                         mailer=SmtpMailer(env.config.smtp))  # fmt: skip
    assert [p.to for p in rep.queued if p.unit == "排头乡"] == [("ptx.clerk@163.com",)]


def test_learnt_addresses_go_when_staff_ignore_or_reassign_their_mail(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    box.deliver(mail("newbie@163.com", "河口镇5月主题日活动"), local(date(2023, 5, 16)))
    box.deliver(
        mail("other@163.com", "河口镇5月主题日活动", photo_seed=2), local(date(2023, 5, 16))
    )
    box.deliver(mail("kept@163.com", "河口镇5月主题日活动", photo_seed=3), local(date(2023, 5, 16)))
    poll(env, box, FixedClock(local(date(2023, 5, 16), 11)))
    assert addresses_of(env, "河口镇") == {
        "hkz.xtx@example.com": "confirmed", "newbie@163.com": "learnt",
        "other@163.com": "learnt", "kept@163.com": "learnt",
    }  # fmt: skip
    now = local(date(2023, 5, 17))
    with env.db.session() as s:
        ids = {m.from_addr: m.id for m in s.scalars(select(Message))}
        confirm_address(s, env.roster, "河口镇", "kept@163.com", by="clerk", now=now)
        ignore(s, env.roster, ids["newbie@163.com"], now)
        ignore(s, env.roster, ids["kept@163.com"], now)
        assign(s, env.roster, ids["other@163.com"], ["排头乡"], "2023-05", now)
    assert addresses_of(env, "河口镇") == {"hkz.xtx@example.com": "confirmed",
                                          "kept@163.com": "confirmed"}  # fmt: skip
    # the staff decision teaches 排头乡 the address (confirmed, tied to that mail) ...
    assert addresses_of(env, "排头乡")["other@163.com"] == "confirmed"
    # ... until staff change their mind about that mail
    with env.db.session() as s:
        ignore(s, env.roster, ids["other@163.com"], now)
    assert "other@163.com" not in addresses_of(env, "排头乡")


def test_a_learnt_address_stays_while_another_report_came_from_it(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    box.deliver(mail("newbie@163.com", "河口镇5月主题日活动"), local(date(2023, 5, 16)))
    box.deliver(mail("newbie@163.com", "河口镇5月活动补充照片", photo_seed=2),
                local(date(2023, 5, 17)))  # fmt: skip
    poll(env, box, FixedClock(local(date(2023, 5, 17), 11)))
    with env.db.session() as s:
        first = min(s.scalars(select(Message.id)))
        ignore(s, env.roster, first, local(date(2023, 5, 18)))
    assert addresses_of(env, "河口镇")["newbie@163.com"] == "learnt"


# --- the spoofed report ----------------------------------------------------------------------


def _spoof(env: Env, box: Box) -> None:
    box.deliver(mail("spoof@evil.test", "县林业局5月主题日活动"), local(date(2023, 5, 16)))
    poll(env, box, FixedClock(local(date(2023, 5, 16), 11)))


def test_a_report_from_a_new_address_counts_marked_and_the_unit_is_told(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    _spoof(env, box)
    with env.db.session() as s:
        msg = s.scalars(select(Message)).one()
        assert (msg.decision, msg.period, msg.new_sender) == ("matched", "2023-05", True)
        assert "新发件地址：spoof@evil.test（县林业局此前未用过该地址）" in msg.reasons
        mid = msg.id
    deliver_pending(env.db, SmtpMailer(env.config.smtp), FixedClock(local(date(2023, 5, 16), 11)))
    notice = [r for r in smtp_server.received if r.rcpt_tos == ("lyj.xtx@example.com",)]
    assert len(notice) == 1
    body = notice[0].message.get_body(("plain",)).get_content()
    assert "spoof@evil.test" in body and "已按贵单位的报送登记" in body
    assert "主题日活动" not in body and "主题日活动" not in str(notice[0].message["Subject"])
    # the receipt went to the sender, the notice to the unit's own address: nothing else
    assert sorted(r.rcpt_tos for r in smtp_server.received) == [
        ("lyj.xtx@example.com",), ("spoof@evil.test",),
    ]  # fmt: skip
    # a second report from that address is no longer new
    box.deliver(mail("spoof@evil.test", "县林业局5月活动补充", photo_seed=5),
                local(date(2023, 5, 17)))  # fmt: skip
    poll(env, box, FixedClock(local(date(2023, 5, 17), 11)))
    with env.db.session() as s:
        assert [m.new_sender for m in s.scalars(select(Message).order_by(Message.id))] == [
            True, False,
        ]  # fmt: skip
        digest = make_digest(s, env.config, env.roster, date(2023, 5, 17))
    text = digest.message.get_body(("plain",)).get_content()
    html = digest.message.get_body(("html",)).get_content()
    assert text.count("【新发件地址】") == 1 and "新发件地址" in html
    # show marks it
    out = CliRunner().invoke(main, ["--config", str(env.config.path), "show", str(mid)])
    assert out.exit_code == 0, out.output
    assert '"marks": [\n  "新发件地址"\n ]' in out.output


def test_a_receipt_waiting_for_a_mail_staff_then_ignore_is_never_sent(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    _spoof(env, box)  # matched to 县林业局 from a stranger; its receipt waits in the outbox
    with env.db.session() as s:
        mid = s.scalars(select(Message)).one().id
        receipt = s.scalars(select(Outbox).where(Outbox.kind == "receipt")).one()
        assert (receipt.state, receipt.recipients) == ("pending", ["spoof@evil.test"])
        ignore(s, env.roster, mid, local(date(2023, 5, 16), 10))
    deliver_pending(env.db, SmtpMailer(env.config.smtp), FixedClock(local(date(2023, 5, 16), 11)))
    assert all(r.rcpt_tos != ("spoof@evil.test",) for r in smtp_server.received)
    with env.db.session() as s:
        row = s.scalars(select(Outbox).where(Outbox.kind == "receipt")).one()
        assert (row.state, row.last_error) == (
            "cancelled", "staff decided the mail is not a report",
        )  # fmt: skip


def test_with_new_sender_review_a_report_from_a_new_address_waits_for_staff(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port, extra='\n[matching]\nnew_sender = "review"\n')
    assert env.config.matching.new_sender == "review"
    box = Box(env)
    _spoof(env, box)
    with env.db.session() as s:
        msg = s.scalars(select(Message)).one()
        assert (msg.decision, msg.new_sender) == ("review", True)
        assert not msg.submissions
        states = {r.unit: r.state for r in slot_states(s, as_of=date(2023, 5, 20), tz=SHANGHAI)}
        notices = list(s.scalars(select(Outbox)))
    assert states["县林业局"] == "open"
    assert [(n.kind, n.recipients) for n in notices] == [("sender-notice", ["lyj.xtx@example.com"])]
    assert "spoof@evil.test" not in addresses_of(env, "县林业局")
    # a report from the unit's own address still counts at once
    box.deliver(mail("hkz.xtx@example.com", "河口镇5月主题日活动", photo_seed=4),
                local(date(2023, 5, 18)))  # fmt: skip
    poll(env, box, FixedClock(local(date(2023, 5, 18), 11)))
    with env.db.session() as s:
        hk = s.scalars(select(Message).where(Message.from_addr == "hkz.xtx@example.com")).one()
        assert (hk.decision, hk.new_sender) == ("matched", False)


# --- the backdated report --------------------------------------------------------------------


def test_a_backdated_report_on_a_maildir_is_late_and_in_the_digest(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    # Date: says 16 May; it was delivered on 28 May, after the 25th
    box.deliver(mail("lyj.xtx@example.com", "县林业局5月主题日活动"), local(date(2023, 5, 28)))
    clock = FixedClock(local(date(2023, 5, 28), 11))
    poll(env, box, clock)
    deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    with env.db.session() as s:
        msg = s.scalars(select(Message)).one()
        assert msg.received_at == local(date(2023, 5, 28))
        assert any(r.startswith("邮件头日期（Date）比实际到达时间早") for r in msg.reasons)
        states = {r.unit: r.state for r in slot_states(s, as_of=date(2023, 5, 29), tz=SHANGHAI)}
        digest = make_digest(
            s, env.config, env.roster, date(2023, 5, 29), since=local(date(2023, 5, 22), 0)
        )
    assert states["县林业局"] == "late"
    text = digest.message.get_body(("plain",)).get_content()
    assert "县林业局 2023年5月" in text and "逾期" in text
    assert "注意：邮件头日期（Date）比实际到达时间早12天" in text
    # the receipt says late as well
    receipt = next(r for r in smtp_server.received if r.rcpt_tos == ("lyj.xtx@example.com",))
    assert "逾期报送" in receipt.message.get_body(("plain",)).get_content()


# --- receipts ---------------------------------------------------------------------------------


def test_a_plus_tag_flood_gets_three_receipts_and_a_stranger_flood_the_hourly_cap(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port, extra="\n[receipts]\nmax_per_hour = 5\n")
    box = Box(env)
    when = local(date(2023, 5, 16))
    for i in range(8):
        box.deliver(mail(f"victim+{i}@example.org", f"河口镇5月活动 买{i}", photo_seed=10 + i),
                    when + timedelta(minutes=i))  # fmt: skip
    poll(env, box, FixedClock(when + timedelta(minutes=10)))
    with env.db.session() as s:
        receipts = list(s.scalars(select(Outbox).where(Outbox.kind == "receipt")))
    assert len(receipts) == 3
    for i in range(8):
        box.deliver(mail(f"stranger{i}@example.org", f"河口镇5月活动 卖{i}", photo_seed=30 + i),
                    when + timedelta(minutes=20 + i))  # fmt: skip
    poll(env, box, FixedClock(when + timedelta(minutes=30)))
    with env.db.session() as s:
        receipts = list(s.scalars(select(Outbox).where(Outbox.kind == "receipt")))
        assert s.query(Message).count() == 16  # every report recorded all the same
    assert len(receipts) == 5
    assert all(len(r.recipients) == 1 for r in receipts)
    # an hour later receipts flow again
    box.deliver(mail("stranger9@example.org", "河口镇5月活动", photo_seed=50),
                when + timedelta(hours=2))  # fmt: skip
    poll(env, box, FixedClock(when + timedelta(hours=2)))
    with env.db.session() as s:
        assert s.query(Outbox).where(Outbox.kind == "receipt").count() == 6


@pytest.mark.parametrize("where", ["In-Reply-To", "References"])
def test_mail_answering_our_own_mail_gets_no_receipt(
    tmp_path: Path, smtp_server: SmtpServer, where: str
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    send_reminders(env.db, env.roster, env.config, FixedClock(local(date(2023, 5, 4), 9)),
                   mailer=SmtpMailer(env.config.smtp))  # fmt: skip
    ours = smtp_server.messages()[0]["Message-ID"]
    assert ours.endswith("@126.com>")
    box = Box(env)
    refs = {where: ours if where == "In-Reply-To" else f"<a@163.com> {ours}"}
    # the reminder went to hkz.xtx@example.com; an answer to it from another address (a
    # robot it was forwarded to, a forged reply) is recorded and never answered
    box.deliver(mail("hkz.office@163.com", "回复：河口镇5月活动", headers=refs),
                local(date(2023, 5, 16)))  # fmt: skip
    # but a Message-ID in our format that we never sent is made up: it must not switch off
    # the receipt (to a unit's roster address, the receipt is what exposes a forged From)
    made_up = ours.replace("<", "<9", 1)
    box.deliver(mail("ptx.xtx@example.com", "回复：排头乡5月活动", headers={where: made_up}),
                local(date(2023, 5, 16)))  # fmt: skip
    poll(env, box, FixedClock(local(date(2023, 5, 16), 11)))
    with env.db.session() as s:
        assert s.query(Message).count() == 2
        receipts = list(s.scalars(select(Outbox).where(Outbox.kind == "receipt")))
    assert [r.recipients for r in receipts] == [["ptx.xtx@example.com"]]
    # (the unit's own reply to its reminder is answered once: tests/test_unit_replies.py)


# --- on Dovecot ------------------------------------------------------------------------------


def test_on_dovecot_the_spoofed_report_and_the_fake_form(
    tmp_path: Path, smtp_server: SmtpServer, dovecot: DovecotMailbox
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    dovecot.append(liaison_mail("fake@evil.test", "河口镇", BAD_LIAISON),
                   date=datetime(2023, 4, 20, 2, tzinfo=UTC))  # fmt: skip
    dovecot.append(mail("spoof@evil.test", "县林业局5月主题日活动"),
                   date=datetime(2023, 5, 27, 2, tzinfo=UTC))  # fmt: skip
    app = App(env.config)
    app.__dict__["db"] = env.db
    clock = FixedClock(local(date(2023, 5, 27), 11))
    source = ImapSource(ImapSettings(host=dovecot.host, port=dovecot.port, security="none",
                                     username=dovecot.user, password=dovecot.password))  # fmt: skip
    report = app.recorder(clock, on_recorded=receipt_hook(app, clock)).poll_once(source)
    assert report.new == 2
    with env.db.session() as s:
        form, spoof = s.scalars(select(Message).order_by(Message.uid))
        assert (form.kind, form.new_sender) == ("liaison", True)
        assert (spoof.decision, spoof.new_sender) == ("matched", True)
        assert spoof.received_at == datetime(2023, 5, 27, 2, tzinfo=UTC)  # INTERNALDATE
        assert any(r.startswith("邮件头日期") for r in spoof.reasons)
        states = {r.unit: r.state for r in slot_states(s, as_of=date(2023, 5, 29), tz=SHANGHAI)}
    assert states["县林业局"] == "late"
    assert addresses_of(env, "河口镇") == {"hkz.xtx@example.com": "confirmed",
                                          "fake@evil.test": "learnt"}  # fmt: skip


# --- staff actions and the command line --------------------------------------------------------


def test_address_actions_refuse_bad_input_in_one_line(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    now = local(date(2023, 5, 1))
    with env.db.session() as s:
        with pytest.raises(AddressError, match="not a usable address"):
            add_address(s, env.roster, "河口镇", BAD_LIAISON, by="clerk", now=now)
        with pytest.raises(AddressError, match="not in the roster"):
            add_address(s, env.roster, "无此单位", "a@example.com", by="clerk", now=now)
        with pytest.raises(AddressError, match="roster file"):
            remove_address(s, env.roster, "河口镇", "hkz.xtx@example.com", by="clerk")
        with pytest.raises(AddressError, match="not one of its addresses"):
            confirm_address(s, env.roster, "河口镇", "nobody@example.com", by="clerk", now=now)


def test_unit_commands(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    env.db.dispose()
    cfg = str(env.config.path)

    def run(*args: str) -> tuple[int, str]:
        r = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["--config", cfg, "unit", *args], catch_exceptions=False
        )
        return r.exit_code, r.output

    assert run("add-address", "湘潭县河口镇", "HK.Clerk@163.com") == (
        0, "河口镇: hk.clerk@163.com added (confirmed)\n",
    )  # fmt: skip
    code, out = run("addresses", "河口镇", "--json")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and '"confirmed_by": "cli:' in rows[1] and '"reminders": true' in rows[1]
    code, out = run("addresses")
    assert code == 0 and "hk.clerk@163.com" in out and "名册" in out
    assert run("remove-address", "河口镇", "hk.clerk@163.com") == (
        0, "河口镇: hk.clerk@163.com removed\n",
    )  # fmt: skip
    code, out = run("add-address", "河口镇", BAD_LIAISON)
    assert code == 1 and out.count("\n") == 1 and "Traceback" not in out
    assert "not a usable address" in out
    code, out = run("confirm-address", "河口镇", "nobody@example.com")
    assert code == 1 and "not one of its addresses" in out


# --- the migration ---------------------------------------------------------------------------


def test_the_migration_keeps_addresses_and_marks_their_trust(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from tracker.db import alembic_config, make_engine

    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0001")
    now = "2023-05-01 00:00:00+00:00"
    with engine.begin() as c:
        c.execute(text("INSERT INTO unit (id, name, kind, central, aliases, active) "
                       "VALUES (1, '河口镇', 'township', false, '[]', true)"))  # fmt: skip
        c.execute(text(
            "INSERT INTO message (id, raw_sha256, raw_path, raw_size, source, uidvalidity, uid,"
            " from_addr, from_name, subject, received_at, recorded_at, kind, decision,"
            " confidence, reasons, decided_by, headers) VALUES (7, 'x', '', 0, 's', 1, 1,"
            " 'newbie@163.com', '', 's', :t, :t, 'report', 'matched', 1.0, '[]', 'auto', '{}')"
        ), {"t": now})  # fmt: skip
        c.execute(text("INSERT INTO message_unit (id, message_id, unit_id) VALUES (1, 7, 1)"))
        c.execute(text("INSERT INTO slot (id, unit_id, period, due, scheduled, excused, note) "
                       "VALUES (1, 1, '2023-05', '2023-05-25', true, false, '')"))  # fmt: skip
        c.execute(text("INSERT INTO submission (id, message_id, slot_id, created_at) "
                       "VALUES (1, 7, 1, :t)"), {"t": now})  # fmt: skip
        for i, (addr, source) in enumerate(
            [("hkz.xtx@example.com", "roster"), ("newbie@163.com", "report"),
             (BAD_LIAISON, "liaison"), ("clerk@163.com", "staff")], 1
        ):  # fmt: skip
            c.execute(text("INSERT INTO unit_address (id, unit_id, address, source, created_at) "
                           "VALUES (:i, 1, :a, :s, :t)"), {"i": i, "a": addr, "s": source, "t": now})  # fmt: skip
    engine.dispose()
    db = open_database(database_url)
    with db.session() as s:
        rows = {r.address: (r.status, r.source, r.source_message_id)
                for r in s.scalars(select(UnitAddress))}  # fmt: skip
        assert s.get(Message, 7).new_sender is False  # type: ignore[union-attr]
        # nothing cascaded away (a table rebuilt on SQLite would drop its children)
        assert s.query(MessageUnit).count() == 1 and s.query(Submission).count() == 1
    assert rows == {
        "hkz.xtx@example.com": ("confirmed", "roster", None),
        "newbie@163.com": ("learnt", "report", 7),
        BAD_LIAISON: ("refused", "liaison", None),
        "clerk@163.com": ("confirmed", "staff", None),
    }
    db.dispose()


def test_a_learnt_address_the_roster_later_lists_becomes_confirmed(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    box.deliver(mail("hk.new@163.com", "河口镇5月主题日活动"), local(date(2023, 5, 16)))
    poll(env, box, FixedClock(local(date(2023, 5, 16), 11)))
    assert addresses_of(env, "河口镇")["hk.new@163.com"] == "learnt"
    text = env.config.roster_file.read_text(encoding="utf-8").replace(
        'emails = ["hkz.xtx@example.com"]', 'emails = ["hkz.xtx@example.com", "HK.New@163.com"]'
    )
    newer = tmp_path / "roster.toml"
    newer.write_text(text, encoding="utf-8")
    with env.db.session() as s:
        sync_roster(s, load_roster(newer))
    assert addresses_of(env, "河口镇")["hk.new@163.com"] == "confirmed"
    with env.db.session() as s:  # and re-deciding the mail no longer removes it
        ignore(s, env.roster, s.scalars(select(Message.id)).one(), local(date(2023, 5, 17)))
    assert addresses_of(env, "河口镇")["hk.new@163.com"] == "confirmed"


def test_a_made_up_reference_to_our_mail_does_not_switch_the_receipt_off(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    # A forger writes a unit's roster address in From: and a Message-ID in our format that
    # we never sent: the receipt to the real address (which exposes the forgery) still goes.
    env = make_env(tmp_path, smtp_server.port)
    box = Box(env)
    when = local(date(2023, 5, 16))
    forged = {"References": "<1700000000.1.2.ri@126.com>", "In-Reply-To": "<1.2.3.ri@126.com>"}
    box.deliver(mail("lyj.xtx@example.com", "县林业局5月活动", headers=forged), when)
    poll(env, box, FixedClock(when + timedelta(minutes=5)))
    with env.db.session() as s:
        receipts = list(s.scalars(select(Outbox).where(Outbox.kind == "receipt")))
    assert [r.recipients for r in receipts] == [["lyj.xtx@example.com"]]

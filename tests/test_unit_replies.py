"""Closing the loop with the units, on real Dovecot and aiosmtpd: what a unit gets back
for what it sends, and what its replies do."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import select

from tests.dovecot import DovecotMailbox
from tests.service_helpers import service_config
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.app import App
from tracker.clock import SHANGHAI, FixedClock
from tracker.jobs import Jobs
from tracker.models import Message, Outbox
from tracker.samples import photo


def mail(
    subject: str,
    sender: str,
    *,
    sent: datetime,
    photos: int = 1,
    body: str = "我镇于5月16日开展政务公开主题日活动，现报送活动图片。",
    in_reply_to: str | None = None,
    seed: int = 1,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = f"<{seed}.{sent.timestamp():.0f}@example.com>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    for i in range(photos):
        msg.add_attachment(
            photo(seed * 10 + i), maintype="image", subtype="jpeg", filename=f"现场{i + 1}.jpg"
        )
    return msg.as_bytes()


def arrive(box: DovecotMailbox, raw: bytes, when: datetime) -> None:
    """Put a mail in the mailbox as arriving at `when` (its IMAP INTERNALDATE)."""
    box.append(raw, date=when.astimezone(UTC))


def jobs_at(app: App, when: datetime) -> Jobs:
    return Jobs(app, FixedClock(when))


def outbox_rows(app: App) -> list[Outbox]:
    with app.db.session() as s:
        return list(s.scalars(select(Outbox).order_by(Outbox.id)))


def test_a_first_poll_over_old_mail_answers_nobody(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    spring = datetime(2023, 5, 16, 10, tzinfo=SHANGHAI)
    for i, (subject, sender) in enumerate(
        [
            ("河口镇5月政务公开主题日活动", "hkz.xtx@example.com"),
            ("排头乡5月主题日活动报送", "ptx.xtx@example.com"),
            ("县林业局5月政务公开主题日活动", "lyj.xtx@example.com"),
        ],
        1,
    ):
        dovecot.append(mail(subject, sender, sent=spring, seed=i), date=spring.astimezone(UTC))
    config = service_config(tmp_path, dovecot, smtp_server.port)
    app = App.from_path(config)
    # the service starts in December: months after that mail
    jobs = jobs_at(app, datetime(2023, 12, 1, 9, tzinfo=SHANGHAI))
    assert jobs.poll() is True
    with app.db.session() as s:
        decisions = [m.decision for m in s.scalars(select(Message))]
    assert decisions == ["matched"] * 3  # recorded and counted ...
    assert outbox_rows(app) == []  # ... and answered never
    jobs.outbox()
    assert smtp_server.received == []
    # a new report that day is answered as usual
    today = datetime(2023, 12, 1, 8, tzinfo=SHANGHAI)
    dovecot.append(
        mail("易俗河镇12月政务公开主题日活动", "yshz.xtx@example.com", sent=today, seed=9),
        date=today.astimezone(UTC),
    )
    assert jobs.poll() is True
    jobs.outbox()
    assert [r.rcpt_tos for r in smtp_server.received] == [("yshz.xtx@example.com",)]
    app.close()


# --- replies -----------------------------------------------------------------------------

MAY = datetime(2023, 5, 16, 10, tzinfo=SHANGHAI)


def start(tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer) -> App:
    return App.from_path(service_config(tmp_path, dovecot, smtp_server.port))


def deliver_new(app: App, smtp_server: SmtpServer, when: datetime) -> list[EmailMessage]:
    before = len(smtp_server.received)
    jobs_at(app, when).outbox()
    return smtp_server.messages()[before:]


def reply_to(
    receipt: EmailMessage,
    sender: str,
    body: str,
    *,
    photos: int = 0,
    sent: datetime,
    seed: int,
) -> bytes:
    """A unit's reply from a mail client: 回复：subject, In-Reply-To, the receipt quoted."""
    quoted = receipt.get_body(("plain",)).get_content()
    text = (
        body
        + "\n\n------------------ 原始邮件 ------------------\n发件人: xtxgov@126.com\n"
        + quoted
    )
    return mail(
        "回复：" + str(receipt["Subject"]),
        sender,
        sent=sent,
        photos=photos,
        body=text,
        in_reply_to=str(receipt["Message-ID"]),
        seed=seed,
    )


def messages_by_id(app: App) -> dict[int, Message]:
    with app.db.session() as s:
        rows = list(s.scalars(select(Message).order_by(Message.id)))
        for m in rows:
            _ = [(mu.unit.name) for mu in m.units], [sub.slot.period for sub in m.submissions]
        return {m.id: m for m in rows}


def units_of(m: Message) -> list[str]:
    return [mu.unit.name for mu in m.units]


def test_more_photos_in_a_reply_to_the_receipt_count_for_the_slot_without_review(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    app = start(tmp_path, dovecot, smtp_server)
    arrive(
        dovecot, mail("河口镇5月政务公开主题日活动", "hkz.xtx@example.com", sent=MAY, seed=1), MAY
    )
    noon = MAY.replace(hour=12)
    assert jobs_at(app, noon).poll() is True
    [receipt] = deliver_new(app, smtp_server, noon)
    body = receipt.get_body(("plain",)).get_content()
    for text in ("登记编号：BS2023-0001", "河口镇", "2023年5月", "按时报送", "活动图片：1 张"):
        assert text in body, text
    assert "可直接回复本邮件补报或更正" in body and "请勿" not in body
    assert "河口镇5月政务公开主题日活动" not in str(receipt["Subject"])  # no echo of the subject
    with app.db.session() as s:
        [row] = s.scalars(select(Outbox))
        assert row.message_id == receipt["Message-ID"]  # the outbox keeps what it sent

    # the unit answers the receipt with two more photos
    later = MAY.replace(hour=15)
    arrive(
        dovecot,
        reply_to(
            receipt, "hkz.xtx@example.com", "补充两张活动照片。", photos=2, sent=later, seed=2
        ),
        later,
    )
    assert jobs_at(app, later).poll() is True
    msgs = messages_by_id(app)
    first, reply = msgs[1], msgs[2]
    assert reply.decision == "matched", reply.reasons
    assert units_of(reply) == ["河口镇"] and reply.period == "2023-05"
    assert [sub.slot_id for sub in reply.submissions] == [sub.slot_id for sub in first.submissions]
    assert reply.original_id == first.id and reply.reply_to_outbox_id is not None
    assert any("回复本系统的回执" in r for r in reply.reasons)
    [second] = deliver_new(app, smtp_server, later)
    assert str(second["Subject"]).startswith("已收到补充材料")
    assert second["In-Reply-To"] == reply.message_id
    text = second.get_body(("plain",)).get_content()
    assert "登记编号：BS2023-0002" in text and "对登记编号 BS2023-0001 的补充" in text
    assert "活动图片：3 张" in text  # the slot now holds the three photos

    # a reply to that answer is counted, but never answered (no mail ping-pong)
    evening = MAY.replace(hour=18)
    arrive(
        dovecot,
        reply_to(second, "hkz.xtx@example.com", "再补一张。", photos=1, sent=evening, seed=3),
        evening,
    )
    assert jobs_at(app, evening).poll() is True
    assert messages_by_id(app)[3].decision == "matched"
    assert deliver_new(app, smtp_server, evening) == []
    app.close()


def test_a_reply_that_disputes_the_month_goes_to_review_linked_to_the_original(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    app = start(tmp_path, dovecot, smtp_server)
    arrive(
        dovecot, mail("县林业局5月政务公开主题日活动", "lyj.xtx@example.com", sent=MAY, seed=1), MAY
    )
    noon = MAY.replace(hour=12)
    jobs_at(app, noon).poll()
    [receipt] = deliver_new(app, smtp_server, noon)
    later = MAY.replace(hour=16)
    arrive(
        dovecot,
        reply_to(
            receipt,
            "lyj.xtx@example.com",
            "您好，应为6月，我局活动是6月开展的。",
            sent=later,
            seed=2,
        ),
        later,
    )
    jobs_at(app, later).poll()
    msgs = messages_by_id(app)
    original, dispute = msgs[1], msgs[2]
    assert dispute.decision == "review"
    assert dispute.original_id == original.id
    assert units_of(dispute) == ["县林业局"] and dispute.period == "2023-06"
    assert any("应为6月" in r and "原邮件 #1" in r for r in dispute.reasons)
    assert original.decision == "matched"  # staff decide; nothing changes by itself
    [note] = deliver_new(app, smtp_server, later)
    assert str(note["Subject"]).startswith("已收到，正在核实")
    text = note.get_body(("plain",)).get_content()
    assert "对登记编号 BS2023-0001 提出的更正" in text and "应为6月" in text
    assert note["In-Reply-To"] == dispute.message_id

    # "不是我们单位" to the same receipt: review too, and the note says so
    arrive(
        dovecot,
        reply_to(
            receipt, "lyj.xtx@example.com", "这个不是我们单位的，请核实。", sent=later, seed=3
        ),
        later,
    )
    jobs_at(app, later).poll()
    third = messages_by_id(app)[3]
    assert third.decision == "review" and third.original_id == original.id
    [note2] = deliver_new(app, smtp_server, later)
    assert "不是我们单位" in note2.get_body(("plain",)).get_content()
    app.close()


def test_a_report_in_review_gets_one_note_no_reminder_and_a_receipt_when_assigned(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    from click.testing import CliRunner

    from tracker.cli import main
    from tracker.outgoing.reminders import send_reminders

    config = service_config(tmp_path, dovecot, smtp_server.port)
    app = App.from_path(config)
    # 排头乡 owes May; it writes July: the matcher will not decide that alone
    sent = datetime(2023, 5, 24, 9, tzinfo=SHANGHAI)
    arrive(
        dovecot, mail("排头乡7月政务公开主题日活动", "ptx.xtx@example.com", sent=sent, seed=1), sent
    )
    noon = sent.replace(hour=12)
    jobs_at(app, noon).poll()
    msg = messages_by_id(app)[1]
    assert msg.decision == "review" and units_of(msg) == ["排头乡"]
    [note] = deliver_new(app, smtp_server, noon)
    assert note["To"] == "ptx.xtx@example.com"
    assert str(note["Subject"]).startswith("已收到，正在核实")
    body = note.get_body(("plain",)).get_content()
    assert "正在由工作人员核实" in body and "登记编号 BS2023-0001" in body
    assert "不会向贵单位催报" in body
    jobs_at(app, noon).poll()  # nothing new, nothing more
    assert deliver_new(app, smtp_server, noon) == []

    # the overdue day: the other May units are chased, 排头乡 is not
    overdue = datetime(2023, 5, 26, 9, tzinfo=SHANGHAI)
    rep = send_reminders(app.db, app.roster, app.config, FixedClock(overdue))
    chased = {p.unit for p in rep.queued if p.period == "2023-05"}
    assert "排头乡" not in chased and {"河口镇", "县林业局"} <= chased
    assert not any("ptx.xtx@example.com" in r.rcpt_tos for r in smtp_server.received[1:])
    app.close()

    # staff decide: a May report after all; the unit gets its receipt then
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "assign", "1", "--unit", "排头乡", "--period", "2023-05"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    receipts = [r for r in smtp_server.received if str(r.message["Subject"]).startswith("已收到：")]
    assert [r.rcpt_tos for r in receipts] == [("ptx.xtx@example.com",)]
    text = receipts[0].message.get_body(("plain",)).get_content()
    assert "经工作人员核实" in text and "2023年5月" in text and "BS2023-0001" in text
    # assigning the same again sends nothing more
    CliRunner().invoke(
        main, ["--config", str(config), "assign", "1", "--unit", "排头乡", "--period", "2023-05"]
    )
    assert sum(str(r.message["Subject"]).startswith("已收到：") for r in smtp_server.received) == 1


def test_a_joint_reports_receipt_reaches_both_units(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    app = start(tmp_path, dovecot, smtp_server)
    arrive(
        dovecot,
        mail(
            "河口镇、排头乡联合开展5月政务公开主题日活动",
            "hkz.xtx@example.com",
            sent=MAY,
            photos=2,
            body="河口镇、排头乡于5月16日联合开展政务公开主题日活动，现报送活动图片。",
            seed=1,
        ),
        MAY,
    )
    noon = MAY.replace(hour=12)
    jobs_at(app, noon).poll()
    msg = messages_by_id(app)[1]
    assert msg.decision == "matched" and set(units_of(msg)) == {"河口镇", "排头乡"}, msg.reasons
    # (排头乡 is also told a report in its name came from 河口镇's address: tracker.senders)
    got = [m for m in deliver_new(app, smtp_server, noon) if str(m["Subject"]).startswith("已收到")]
    receipts = [r for r in smtp_server.received if str(r.message["Subject"]).startswith("已收到")]
    assert sorted(r.rcpt_tos for r in receipts) == [
        ("hkz.xtx@example.com",),
        ("ptx.xtx@example.com",),
    ]
    for m in got:
        assert len(m["To"].addresses) == 1
        text = m.get_body(("plain",)).get_content()
        assert "排头乡、河口镇（联合报送）" in text and "BS2023-0001" in text  # roster order
    to_sender = next(m for m in got if m["To"] == "hkz.xtx@example.com")
    assert to_sender["In-Reply-To"] == msg.message_id
    app.close()

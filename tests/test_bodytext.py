"""The board and the evidence export read a mail's text again from its raw copy: under a
bound, and never for a mail whose analysis the intake already gave up on."""

from __future__ import annotations

from email.message import EmailMessage

from tracker.bodytext import mail_text


def _nested_without_boundaries(mb: float = 5, depth: int = 40) -> bytes:
    # multiparts with no boundary, nested: each level is re-parsed whole (depth x size)
    line = "x" * 76 + "\r\n"
    body = line * int(mb * 1024 * 1024 / len(line))
    for k in reversed(range(depth)):
        body = f"--B{k}\r\nContent-Type: multipart/mixed\r\n\r\n{body}\r\n--B{k}--\r\n"
    head = (
        "From: stranger@evil.test\r\nTo: xtxgov@126.com\r\nSubject: hello\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
    )
    return (head + body).encode()


def test_a_plain_mail_reads_back() -> None:
    msg = EmailMessage()
    msg["Subject"] = "河口镇5月活动"
    msg.set_content("我镇于5月18日开展了政务公开主题日活动。")
    assert "5月18日" in (mail_text(msg.as_bytes) or "")


def test_a_mail_the_intake_gave_up_on_is_not_parsed_again() -> None:
    def read() -> bytes:
        raise AssertionError("must not be read")

    reasons = ["邮件分析超时（超过 60 秒），已保留原件，请人工查看"]
    assert mail_text(read, reasons=reasons) is None


def test_a_slow_mail_is_cut_off_by_the_bound() -> None:
    raw = _nested_without_boundaries()
    assert mail_text(lambda: raw, seconds=0.5) is None


def test_a_gone_raw_copy_is_no_text() -> None:
    def read() -> bytes:
        raise FileNotFoundError("gone")

    assert mail_text(read) is None

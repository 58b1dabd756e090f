"""The parser hands long base64 bodies to the stdlib as one token line and puts them back
(intake.parsing._message_from_bytes): every mail must come out exactly as the plain
stdlib parse makes it, for the corpus, the parsing fixtures and mails built to trip it."""

from __future__ import annotations

import base64
import email
import os
from collections.abc import Iterator
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from intake import parsing
from tracker.samples import photo

HERE = Path(__file__).resolve().parent


def _b64_lines(data: bytes, eol: bytes = b"\r\n") -> bytes:
    text = base64.b64encode(data)
    return eol.join(text[i : i + 76] for i in range(0, len(text), 76)) + eol


def built() -> Iterator[tuple[str, bytes]]:
    report = EmailMessage()
    report["From"] = "县林业局 <lyj@example.com>"
    report["Subject"] = "县林业局5月主题日"
    report.set_content("见附件")
    for k in range(2):
        report.add_attachment(photo(k, size=(900, 600)), maintype="image", subtype="jpeg",
                              filename=f"活动{k}.jpg")  # fmt: skip
    plain = report.as_bytes()
    yield "report", plain
    yield "report-lf", plain.replace(b"\r\n", b"\n")
    yield "report-cr-only", plain.replace(b"\r\n", b"\r")
    blob = _b64_lines(os.urandom(20000))
    # a forwarded report, base64 bodies inside the inner message and after it
    outer = (
        b"From: a@example.com\r\nSubject: fw\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
        + b"pre\r\n" + blob + b"--o\r\nContent-Type: message/rfc822\r\n\r\n" + plain
        + b"\r\n--o\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + blob + b"--o--\r\n" + blob
    )  # fmt: skip
    yield "forward-with-preamble-and-epilogue", outer
    # a message/rfc822 part a client base64-encoded
    encoded = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="e"\r\n\r\n--e\r\n'
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64_lines(plain) + b"--e--\r\n"
    )  # fmt: skip
    yield "base64-rfc822", encoded
    # base64 lines in a text body, a "--" signature, 8-bit GBK around them, no boundary
    text = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=gb2312\r\n"
        b"\r\n" + "说明".encode("gbk") + b"\r\n\r\n" + blob + b"-- \r\n\r\n" + blob + b"tail"
    )  # fmt: skip
    yield "base64-in-text", text
    # a boundary the header does not declare, blocks on either side
    wrong = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n--real\r\n'
        b"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + blob + b"--real--\r\n"
    )  # fmt: skip
    yield "wrong-boundary", wrong
    # a header-like first line, a bare CR blank line, padding in the middle
    odd = (
        b"From: a@example.com\r\n\r\r\n" + blob + b"====\r\n" + blob
    )  # fmt: skip
    yield "odd-separators", odd


def corpus() -> Iterator[tuple[str, bytes]]:
    for path in sorted([*HERE.glob("corpus/**/*.eml"), *HERE.glob("mails/**/*.eml")]):
        yield str(path.relative_to(HERE)), path.read_bytes()


CASES = [*built(), *corpus()]


def _flat(msg: Message) -> bytes | str:
    try:
        return msg.as_bytes()
    except Exception as exc:  # some broken mails do not serialise: alike, then
        return type(exc).__name__


def _plain(data: bytes) -> Message:
    return email.message_from_bytes(data)


@pytest.mark.parametrize(("name", "raw"), CASES, ids=[name for name, _ in CASES])
def test_the_token_parse_is_the_plain_parse(
    name: str, raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = parsing._message_from_bytes(raw)
    plain = _plain(raw)
    assert _flat(fast) == _flat(plain)
    for a, b in zip(fast.walk(), plain.walk(), strict=True):
        for attr in ("_payload", "preamble", "epilogue"):
            mine, theirs = getattr(a, attr), getattr(b, attr)
            assert type(mine) is type(theirs)
            if not isinstance(mine, list):
                assert mine == theirs
        assert [type(d) for d in a.defects] == [type(d) for d in b.defects]
    try:
        parsed = parsing.parse_message(raw)
    except parsing.UnparseableMail:
        return
    monkeypatch.setattr(parsing, "_message_from_bytes", _plain)
    assert parsed == parsing.parse_message(raw)


def test_the_token_parse_is_taken_for_a_mail_of_photos(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = email.message_from_bytes

    def spy(data: bytes) -> Message:
        seen.append(len(data))
        return real(data)

    monkeypatch.setattr(parsing.email, "message_from_bytes", spy)
    raw = dict(built())["report"]
    parsing.parse_message(raw)
    assert seen and seen[0] < len(raw) // 20  # the photos went through as two lines

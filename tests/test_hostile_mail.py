"""Mail written to stall or fool the intake: bodies built for catastrophic backtracking,
control characters in what staff read, links that fool an allow-list, forged references.

Each body is 1 MB; analysing one must take time linear in its size. The bound is generous
(CPU time, not wall time, and a factor of three over linear): a quadratic pattern misses it
by two orders of magnitude (267 s for 100 KB before these tests existed).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from intake.cloudlinks import find_cloud_links, provider_of
from intake.parsing import parse_message
from intake.text import html_to_text, split_quoted, strip_controls
from tests.matching_mail import load_units
from tracker.recording import analyse

MB = 1024 * 1024
NETEASE = (
    "https://mail.163.com/large-attachment-download/index.html"
    "?p=X-NETEASE-HUGE-ATTACHMENT&file=ThreadFileKey"
)
UNITS = load_units()
WHEN = datetime(2023, 5, 20, 4, 0, tzinfo=UTC)


def _random_text(size: int) -> str:
    rnd = random.Random(8)
    alphabet = (
        "县林业局镇乡月年日号5十二：:@.-_ ()（）<>\n在写道fromsent发件人主题abc019，。、\\/%&=?#"
    )
    return "".join(rnd.choice(alphabet) for _ in range(size))


def _thread(size: int) -> str:
    line = "> 回复：关于报送主题日活动情况 在 2023年5月20日 10:00，xtxgov 写道：好的\n"
    block = "从网易163邮箱发来的超大附件\n照片.zip (80.96M, 2024年08月22日 17:33 到期)\n"
    return line * (size // len(line)) + block + NETEASE


TEXT_SHAPES: dict[str, Callable[[int], str]] = {
    "long_thread_with_a_163_link": _thread,
    "no_space_before_a_paren": lambda n: "a" * n + " (1M, " + NETEASE,
    "open_parens": lambda n: "(" * n + NETEASE,
    "name_without_size": lambda n: "x " * (n // 2) + "(80M,",
    "one_long_word": lambda n: "a" * n,
    "at_signs": lambda n: "a@" * (n // 2),
    "dotted_host": lambda n: "a." * (n // 2) + "@",
    "blank_lines": lambda n: "\n" * n + "x",
    "spaces": lambda n: " " * n + "x",
    "from_labels": lambda n: "from:" * (n // 5),
    "from_lines": lambda n: "from: x\n" * (n // 8),
    "dashes": lambda n: "-" * n,
    "underscores": lambda n: "_" * n,
    "wrote_markers": lambda n: "在" * n,
    "years": lambda n: "2023年" * (n // 5),
    "months": lambda n: "5月" * (n // 2),
    "chinese_months": lambda n: "十二月" * (n // 3),
    "unit_names": lambda n: "县林业局" * (n // 4),
    "liaison_labels": lambda n: "姓名：" * (n // 3),
    "size_labels": lambda n: "大小：" * (n // 3),
    "expiry_labels": lambda n: "到期时间：" * (n // 5),
    "urls": lambda n: "https://a" * (n // 9),
    "random": _random_text,
}
QUOTE = "我局图片见附件。\n-----Original Message-----\n"
# Forwards and liaison forms take other paths through the matcher (the forwarded header
# block, the liaison fields in the body): the same shapes under those subjects.
SUBJECT_SHAPES: dict[str, tuple[str, Callable[[int], str]]] = {
    "forward_blank_lines": ("转发：县林业局5月", lambda n: QUOTE + "\n" * n + "x"),
    "forward_blank_spaces": ("转发：县林业局5月", lambda n: QUOTE + " \n" * (n // 2)),
    "forward_from_letters": ("转发：县林业局5月", lambda n: QUOTE + "发件人：" + "a" * n),
    "forward_from_lines": ("转发：县林业局5月", lambda n: QUOTE + "发件人：\n" * (n // 5)),
    "forward_subject_lines": ("Fw: 县林业局", lambda n: QUOTE + "主题：\n\n" * (n // 5)),
    "forward_random": ("转发：县林业局5月", lambda n: QUOTE + _random_text(n)),
    "liaison_labels": ("县林业局联络员信息表", lambda n: "电子邮箱：" * (n // 5)),
    "liaison_random": ("县林业局联络员信息表", lambda n: _random_text(n)),
    "reply_random": ("回复：县林业局5月", lambda n: _random_text(n)),
}
HTML_SHAPES: dict[str, Callable[[int], str]] = {
    "repeated_title": lambda n: "<title>" * (n // 7),
    "repeated_script": lambda n: "<script" * (n // 7),
    "open_comments": lambda n: "<!--" * (n // 4),
    "unclosed_tags": lambda n: "<a " * (n // 3),
    "nested_divs": lambda n: "<div>" * (n // 5),
    "links": lambda n: f'<a href="{NETEASE}">x</a>' * (n // (len(NETEASE) + 20)),
    "titled_elements": lambda n: "<p title='x'>" * (n // 13),
    "broken_entities": lambda n: "&#" * (n // 2),
    "lone_brackets": lambda n: "<" * n,
    "cells": lambda n: "<table><tr><td>" * (n // 15),
}


class _TooSlow(Exception):
    pass


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    """Abort the block after `seconds` of wall time (a regression must fail, not hang)."""

    def stop(*_: object) -> None:
        raise _TooSlow(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raw(text: str | None = None, html: str | None = None, subject: str = "县林业局5月") -> bytes:
    """A mail with an 8-bit body (built by hand: the stdlib's encoder is slow on 1 MB)."""
    head = (
        f"From: lyj@example.com\r\nTo: xtxgov@126.com\r\nSubject: {subject}\r\n"
        "Message-ID: <hostile@example.com>\r\nMIME-Version: 1.0\r\n"
    )
    if html is None:
        return (
            f"{head}Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
        ).encode()
    return (
        f"{head}Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n"
    ).encode()


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def _whole_intake(raw: bytes) -> None:
    analysis = analyse(raw, UNITS, received_at=WHEN)
    assert analysis.parsed is not None
    find_cloud_links(analysis.parsed.text, analysis.parsed.html)
    html_to_text(analysis.parsed.html)
    split_quoted(analysis.parsed.text)


def _assert_linear(make_raw: Callable[[int], bytes]) -> None:
    small, big = make_raw(MB // 8), make_raw(MB)
    with _cpu_limit(60):
        _whole_intake(make_raw(1024))  # warm caches and imports
        t_small = _cpu(lambda: _whole_intake(small))
        t_big = _cpu(lambda: _whole_intake(big))
    # Linear: 8 times the size, 8 times the time. Allow 3 times that, plus a second of noise.
    assert t_big <= 3 * 8 * t_small + 1.0, (t_small, t_big)
    assert t_big < 10, t_big


@pytest.mark.parametrize("shape", sorted(TEXT_SHAPES))
def test_it_reads_a_hostile_text_body_in_linear_time(shape: str) -> None:
    _assert_linear(lambda n: _raw(text=TEXT_SHAPES[shape](n)))


@pytest.mark.parametrize("shape", sorted(SUBJECT_SHAPES))
def test_it_reads_a_hostile_forward_or_form_in_linear_time(shape: str) -> None:
    subject, body = SUBJECT_SHAPES[shape]
    _assert_linear(lambda n: _raw(text=body(n), subject=subject))


@pytest.mark.parametrize("shape", sorted(HTML_SHAPES))
def test_it_reads_a_hostile_html_body_in_linear_time(shape: str) -> None:
    _assert_linear(lambda n: _raw(html=HTML_SHAPES[shape](n)))


def test_it_still_finds_the_link_at_the_end_of_a_long_thread() -> None:
    parsed = parse_message(_raw(text=_thread(400 * 1024)))
    links = find_cloud_links(parsed.text, parsed.html)
    assert [(link.name, link.size_bytes) for link in links] == [("照片.zip", round(80.96 * MB))]


def test_it_reads_a_huge_subject_quickly() -> None:
    subject = ("回复：" * 200_000 + "县林业局").encode()
    raw = b"From: lyj@example.com\r\nSubject: " + subject + b"\r\n\r\n\xe5\x9b\xbe\xe7\x89\x87\r\n"
    with _cpu_limit(30):
        seconds = _cpu(lambda: analyse(raw, UNITS, received_at=WHEN))
    assert seconds < 5


# --- a backslash in a cloud link's host ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test\\.mail.163.com/large-attachment-download/index.html?file=a",
        "https://evil.test\\\\mail.163.com/large-attachment-download/index.html?file=a",
        "https://evil.test%2Fmail.163.com/large-attachment-download/index.html?file=a",
        "https://evil.test%2email.163.com/large-attachment-download/index.html?file=a",
        "https://mail.163.com@evil.test/large-attachment-download/index.html?file=a",
        "https://evil.test\t.mail.163.com/large-attachment-download/index.html?file=a",
        "https://evil.test\n.mail.163.com/large-attachment-download/index.html?file=a",
        "https://evil.test\x00.mail.163.com/large-attachment-download/index.html?file=a",
        "https://mail．163.com/large-attachment-download/index.html?file=a",
        "javascript://mail.163.com/large-attachment-download/%0aalert(1)",
    ],
)
def test_it_refuses_a_link_whose_host_is_not_the_providers(url: str) -> None:
    assert provider_of(url) is None
    html = f'<a href="{url}">照片.zip</a> (80.96M, 2024年08月22日 17:33 到期)'
    assert find_cloud_links("", html) == []
    assert find_cloud_links(f"照片.zip (80.96M, 2024年08月22日 17:33 到期)\n{url}", "") == []


def test_it_keeps_the_providers_link_in_the_browsers_form() -> None:
    url = "HTTPS://Mail.163.com:443/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT&file=k 1"
    html = f'<a href="{url}">照片.zip</a> (80.96M, 2024年08月22日 17:33 到期)'
    [link] = find_cloud_links("", html)
    assert link.url == (
        "https://mail.163.com/large-attachment-download/index.html"
        "?p=X-NETEASE-HUGE-ATTACHMENT&file=k%201"
    )
    assert link.name == "照片.zip"


# --- controls in what staff read --------------------------------------------------------


def test_it_strips_terminal_and_bidi_controls_from_subject_names_and_files() -> None:
    msg = EmailMessage()
    msg["From"] = '"\x1b[2J\x1b]0;pwned\x07县林业局" <lyj@example.com>'
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = "县林业局\x1b[31m5月\u202e图片\x9b2J"
    msg["Message-ID"] = "<esc@example.com>"
    msg.set_content("图片见附件")
    msg.add_alternative(
        f'<a href="{NETEASE}">照片\x1b[1m.zip\u2066</a> (80.96M, 2024年08月22日 17:33 到期)',
        subtype="html",
    )
    msg.add_attachment(
        b"\xff\xd8\xff", maintype="image", subtype="jpeg", filename="照片\u202egpj.exe\x1b.jpg"
    )
    parsed = parse_message(msg.as_bytes())
    controls = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))] + ["\u202e", "\u2066"]
    [link] = find_cloud_links(parsed.text, parsed.html)
    shown = [parsed.subject, parsed.from_name, link.name, *(a.filename for a in parsed.attachments)]
    for value in shown:
        assert not any(c in value for c in controls), repr(value)
    assert parsed.subject == "县林业局[31m5月图片2J"
    assert parsed.from_name == "[2J]0;pwned县林业局"
    assert link.name == "照片[1m.zip"


def test_strip_controls_keeps_line_breaks_when_asked() -> None:
    assert strip_controls("a\x1b\nb\tc\u200f", one_line=False) == "a\nb\tc"
    assert strip_controls("a\r\nb\tc") == "a b c"


# --- references -------------------------------------------------------------------------


def test_it_keeps_only_well_formed_references() -> None:
    msg = EmailMessage()
    msg["From"] = "lyj@example.com"
    msg["Subject"] = "回复：县林业局"
    msg["References"] = (
        "<a1@example.com> junk bare@example.com <no-at> <b2@x.test> <a1@example.com>"
    )
    msg.set_content("好的")
    parsed = parse_message(msg.as_bytes())
    assert parsed.references == ("<a1@example.com>", "<b2@x.test>")


def test_a_mail_of_thousands_of_parts_reads_the_first_ones_and_goes_to_review() -> None:
    # 5,000 tiny attachments: storing each (a file, a row) is what a stranger wants us to do
    msg = EmailMessage()
    msg["From"] = "stranger@evil.test"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = "石潭镇5月政务公开主题日活动"
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg.set_content("活动图片见附件。")
    for i in range(5000):
        msg.add_attachment(f"{i}".encode(), maintype="application", subtype="octet-stream",
                           filename=f"{i}.bin")  # fmt: skip
    raw = msg.as_bytes()
    parsed = parse_message(raw)
    assert len(parsed.attachments) < 500
    assert any(e.startswith("too many parts") for e in parsed.errors)
    units = load_units()
    a = analyse(raw, units, received_at=datetime(2023, 5, 16, 2, 0, tzinfo=UTC))
    assert a.result.decision == "review"
    assert any("分段过多" in r for r in a.result.reasons)

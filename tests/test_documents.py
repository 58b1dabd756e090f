"""Write-ups in legacy Word (.doc) and WPS Office (.wps) files are read (intake.worddoc) and
count only when they hold real text; a pdf whose single page would take minutes to read is
cut short inside that page, and its mail goes to review with the reason instead of
stalling the intake. Real files: tests/documents/ (LibreOffice-made .doc; the .wps is that
.doc under a .wps name, see make.py), real mail polled from a Maildir, SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import intake.completeness
from intake.completeness import read_doc, read_mail, read_pdf
from intake.worddoc import NotWordDocument, word_text
from tests.evidence_mail import noise_photo, pdf_bytes, report, slow_pdf, when, workspace
from tracker.cli import main

DOCS = Path(__file__).resolve().parent / "documents"
WORD = "application/msword"


def doc(name: str) -> bytes:
    return (DOCS / name).read_bytes()


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def test_it_reads_the_text_of_a_word_97_doc_and_a_wps() -> None:
    text = word_text(doc("writeup.doc"))
    assert text.startswith("政务公开主题日活动信息\n6月8日上午，我镇在镇政府便民服务中心")
    assert text.rstrip().endswith("已逐条登记并明确办理时限。")
    facts = read_doc(doc("writeup.wps"))
    assert facts.error is None and facts.chars >= 100 and "6月8日" in facts.text
    title = read_doc(doc("title-only.doc"))
    assert title.error is None and title.chars == len("政务公开主题日活动信息")


def test_garbage_under_a_doc_name_is_refused_in_one_line() -> None:
    with pytest.raises(NotWordDocument):
        word_text(b"just some text saved as .doc")
    assert read_doc(b"just some text").error == "不是可识别的Word/WPS文档，未读取"
    broken = doc("writeup.doc")[:3000]  # an OLE header whose sectors are gone
    assert read_doc(broken).error == "文档无法读取"
    # a docx saved under a .doc name is read as the docx it is
    from tests.evidence_mail import docx_bytes

    assert read_doc(docx_bytes()).chars >= 60


def _in_child(work):  # type: ignore[no-untyped-def]
    """Run `work` as the intake does, in a forked child (tracker.bounded): a time-limit
    signal that lands in a finaliser is printed there and dropped, as in the service,
    instead of reaching pytest's unraisable-exception check."""
    from tracker.bounded import run_bounded

    outcome = run_bounded(work, seconds=120)
    assert outcome.failure is None, outcome.failure
    return outcome.value


class Part:
    def __init__(self, filename: str, content_type: str, payload: bytes) -> None:
        self.filename, self.content_type, self.payload = filename, content_type, payload


def _timed_read_pdf() -> tuple[float, object]:
    started = time.monotonic()
    facts = read_pdf(slow_pdf(), seconds=1.0)
    return time.monotonic() - started, facts


def test_a_single_slow_pdf_page_is_cut_short() -> None:
    took, facts = _in_child(_timed_read_pdf)
    assert took < 20  # unbounded, this page takes a minute or more
    assert facts.timed_out and facts.error == "读取超时（超过 1 秒），未能确认其内容"
    assert read_pdf(pdf_bytes(), seconds=1.0).chars >= 30  # a normal pdf is untouched

    reading = _in_child(
        lambda: read_mail(
            [Part("信息.pdf", "application/pdf", slow_pdf()),
             Part("b.doc", WORD, doc("writeup.doc"))],
            "",
            "",
            seconds=1.0,
        )
    )  # fmt: skip
    # the mail's budget is spent: the next document is not read, and says so
    assert reading.problems == (
        "附件“信息.pdf”读取超时（超过 1 秒），未能确认其内容，请人工查看",
        "附件“b.doc”未读取（邮件中的文档读取总时间超过 1 秒），请人工查看",
    )


@pytest.fixture
def polled(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    # one second per document instead of five, so the slow pdf costs the test little
    monkeypatch.setattr(intake.completeness, "DOC_SECONDS", 1.0)
    mails = [
        report("县林业局5月政务公开主题日活动", "lyj.xtx@example.com", when(2023, 5, 12),
               photos=[("现场.jpg", noise_photo(41))],
               files=[("活动信息.doc", WORD, doc("writeup.doc"))]),
        report("县人社局7月政务公开主题日活动", "rsj.xtx@example.com", when(2023, 7, 10),
               photos=[("现场.jpg", noise_photo(42))],
               files=[("活动信息.wps", "application/kswps", doc("writeup.wps"))]),
        report("县民政局6月政务公开主题日活动", "mzj.xtx@example.com", when(2023, 6, 9),
               photos=[("现场.jpg", noise_photo(43))],
               files=[("标题.doc", WORD, doc("title-only.doc"))]),
        report("县交通局10月政务公开主题日活动", "jtj.xtx@example.com", when(2023, 10, 9),
               photos=[("现场.jpg", noise_photo(44))],
               files=[("信息.pdf", "application/pdf", slow_pdf())]),
    ]  # fmt: skip
    config = workspace(tmp_path, database_url, mails)
    started = time.monotonic()
    run("--config", str(config), "poll", "--once")
    assert time.monotonic() - started < 60  # the slow pdf alone would take a minute
    return config


def test_doc_and_wps_write_ups_count_when_they_hold_text(polled: Path) -> None:
    out = run("--config", str(polled), "status", "--json", "--as-of", "2023-12-31")
    rows = {r["unit"]: r for r in json.loads(out)}
    lyj = rows["县林业局"]
    assert lyj["complete"] is True and lyj["writeup"] == "活动信息.doc"
    rsj = rows["县人社局"]
    assert rsj["complete"] is True and rsj["writeup"] == "活动信息.wps"
    mzj = rows["县民政局"]  # a .doc with a title only is no write-up
    assert mzj["state"] == "received" and mzj["missing"] == ["writeup"]


def test_a_mail_whose_pdf_runs_out_of_time_waits_in_review(polled: Path) -> None:
    review = [json.loads(x) for x in run("--config", str(polled), "review", "--json").splitlines()]
    (jtj,) = [m for m in review if m["subject"].startswith("县交通局")]
    assert "附件“信息.pdf”读取超时（超过 1 秒），未能确认其内容，请人工查看" in jtj["reasons"]
    out = run("--config", str(polled), "status", "--json", "--as-of", "2023-12-31")
    assert {r["unit"]: r["state"] for r in json.loads(out)}["县交通局"] == "missing"


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


class _SlowFinaliser:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __del__(self) -> None:
        _busy(self.seconds)


def _finaliser_run() -> tuple[bool, float]:
    from intake.completeness import ReadTimeout, time_limit

    started = time.monotonic()
    try:
        with time_limit(0.2):
            _SlowFinaliser(0.3)  # dropped at once: the first signal lands in its __del__, lost
            for _ in range(200):  # 8 s of work if nothing stopped it
                _busy(0.02)
                _SlowFinaliser(0.02)
    except ReadTimeout:
        return True, time.monotonic() - started
    return False, time.monotonic() - started


def test_a_time_limit_signal_lost_in_a_finaliser_is_sent_again() -> None:
    stopped, took = _in_child(_finaliser_run)
    assert stopped and took < 2

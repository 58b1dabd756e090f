"""Completeness of a report: real photos (not logos, signatures or tiny inline images) and a
write-up (docx, pdf, doc/wps, or a body of real text), from a poll of real mail through to
`status --json`, receipts and the digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from intake.completeness import (
    ImageFacts,
    body_is_writeup,
    completeness,
    is_real_photo,
    read_docx,
    read_pdf,
)
from tests.evidence_mail import (
    DOCX,
    WRITEUP_TEXT,
    docx_bytes,
    noise_photo,
    pdf_bytes,
    report,
    when,
    workspace,
)
from tracker.cli import main


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def test_it_answers_complete_and_missing_as_plain_data() -> None:
    assert completeness(3, "信息.docx").complete
    assert completeness(0, "信息.docx").missing == ("photos",)
    assert completeness(2, "").missing == ("writeup",)
    assert completeness(0, None).missing_text == "活动图片、文字材料（信息）"


def test_it_tells_photos_from_logos_and_signature_images() -> None:
    def facts(w: int, h: int, size: int = 200_000, **kw: object) -> ImageFacts:
        base: dict[str, object] = dict(
            filename="IMG_0001.jpg",
            content_type="image/jpeg",
            size=size,
            width=w,
            height=h,
            decoded=True,
        )
        base.update(kw)
        return ImageFacts(**base)  # type: ignore[arg-type]

    assert is_real_photo(facts(1200, 800))
    assert is_real_photo(facts(1080, 1440, inline=True, content_id="x"))  # phone, inline
    assert not is_real_photo(facts(200, 60, size=3000))  # logo
    assert not is_real_photo(facts(600, 400, size=20_000, content_id="sig"))  # inline, small
    assert not is_real_photo(facts(600, 400, size=20_000, filename="签名.png"))
    assert not is_real_photo(facts(2000, 300))  # a banner
    assert not is_real_photo(facts(800, 600, content_type="image/gif"))
    assert not is_real_photo(facts(800, 600, decoded=False))


def test_it_reads_docx_and_pdf_text_and_refuses_garbage() -> None:
    assert read_docx(docx_bytes()).chars >= 60
    assert read_pdf(pdf_bytes()).chars >= 30
    assert read_docx(b"PK\x03\x04 not a zip").error
    assert read_pdf(b"%PDF-1.4 broken").chars == 0
    assert body_is_writeup(WRITEUP_TEXT)
    assert not body_is_writeup(
        "附件是我局5月活动照片，请查收。\n\n-----原始邮件-----\n" + WRITEUP_TEXT
    )
    assert not body_is_writeup("请查收\n> " + WRITEUP_TEXT)


@pytest.fixture
def polled(tmp_path: Path, database_url: str) -> Path:
    photos = [("活动现场1.jpg", noise_photo(1)), ("活动现场2.jpg", noise_photo(2))]
    mails = [
        # photos only: 县林业局, May
        report(
            "县林业局5月政务公开主题日活动", "lyj.xtx@example.com", when(2023, 5, 12), photos=photos
        ),
        # write-up only (docx): 县人社局, July
        report(
            "县人社局7月政务公开主题日活动信息",
            "rsj.xtx@example.com",
            when(2023, 7, 10),
            files=[("活动信息.docx", DOCX, docx_bytes())],
        ),
        # both, write-up in the body: 县民政局, June
        report(
            "县民政局6月政务公开主题日活动",
            "mzj.xtx@example.com",
            when(2023, 6, 9),
            body=WRITEUP_TEXT,
            photos=[("现场.jpg", noise_photo(3))],
        ),
        # a signature logo only: 县卫健局, June
        report(
            "县卫健局6月政务公开主题日活动", "wjj.xtx@example.com", when(2023, 6, 10), logo=True
        ),
    ]
    config = workspace(tmp_path, database_url, mails)
    run("--config", str(config), "poll", "--once")
    return config


def _rows(config: Path) -> dict[str, dict[str, object]]:
    out = run("--config", str(config), "status", "--json", "--as-of", "2023-12-31")
    return {r["unit"]: r for r in json.loads(out)}


def test_status_json_carries_complete_and_missing(polled: Path) -> None:
    rows = _rows(polled)
    assert rows["县林业局"]["complete"] is False
    assert rows["县林业局"]["missing"] == ["writeup"]
    assert rows["县林业局"]["photos"] == 2
    assert rows["县人社局"]["missing"] == ["photos"]
    assert rows["县人社局"]["writeup"] == "活动信息.docx"
    assert rows["县民政局"]["complete"] is True and rows["县民政局"]["missing"] == []
    assert rows["县民政局"]["writeup"] == "正文"
    # the logo-only mail goes to review (no attachment, no description); once staff
    # count it, the slot is received but misses both: the logo is no photo
    assert rows["县卫健局"]["state"] == "missing"
    review = [json.loads(x) for x in run("--config", str(polled), "review", "--json").splitlines()]
    (logo_mail,) = [m for m in review if "县卫健局" in m["subject"]]
    run(
        "--config",
        str(polled),
        "assign",
        str(logo_mail["id"]),
        "--unit",
        "县卫健局",
        "--period",
        "2023-06",
    )
    rows = _rows(polled)
    assert rows["县卫健局"]["state"] == "received"
    assert rows["县卫健局"]["missing"] == ["photos", "writeup"]
    missing_slot = rows["县公安局"]
    assert missing_slot["state"] == "missing" and missing_slot["complete"] is False


def test_a_pdf_write_up_counts_and_a_later_mail_completes_the_slot(
    tmp_path: Path, database_url: str
) -> None:
    mails = [
        report(
            "县林业局5月政务公开主题日活动",
            "lyj.xtx@example.com",
            when(2023, 5, 12),
            photos=[("活动现场1.jpg", noise_photo(7))],
        ),
        report(
            "县林业局5月政务公开主题日活动信息",
            "lyj.xtx@example.com",
            when(2023, 5, 13),
            files=[("信息.pdf", "application/pdf", pdf_bytes())],
        ),
    ]
    config = workspace(tmp_path, database_url, mails)
    run("--config", str(config), "poll", "--once")
    row = _rows(config)["县林业局"]
    assert row["complete"] is True and row["writeup"] == "信息.pdf" and row["photos"] == 1
    assert len(row["submissions"]) == 2  # type: ignore[arg-type]


def test_the_receipt_and_the_digest_say_what_to_send(polled: Path) -> None:
    from sqlalchemy import select

    from tracker.app import App
    from tracker.models import Message
    from tracker.outgoing.digest import digest_context
    from tracker.outgoing.emails import render
    from tracker.outgoing.receipts import receipt_context

    app = App.from_path(polled)
    try:
        with app.db.session() as s:
            lyj = s.scalars(select(Message).where(Message.from_addr == "lyj.xtx@example.com")).one()
            mzj = s.scalars(select(Message).where(Message.from_addr == "mzj.xtx@example.com")).one()
            text = render("receipt", receipt_context(s, lyj, app.config), None).text
            assert "尚缺：文字材料（信息）。请补发：" in text and "文字材料：未见" in text
            assert "可写在邮件正文中，或附 Word / PDF 文件" in text  # what to send
            text = render("receipt", receipt_context(s, mzj, app.config), None).text
            assert "活动图片：1 张" in text and "文字材料：邮件正文" in text
            assert "材料齐全，无需再发送" in text
            ctx, _ = digest_context(s, app.config, app.roster, when(2023, 7, 14).date())
            by_unit = {r["units"][0]: r for r in ctx["reports"]}
            assert by_unit["县人社局"]["materials"] == "尚缺活动图片，请补充发送"
            assert by_unit["县人社局"]["complete"] is False
    finally:
        app.close()


def test_documents_are_read_in_the_bounded_analysis() -> None:
    from tests.evidence_mail import ROSTER
    from tracker.recording import analyse_bounded
    from tracker.roster import load_roster

    raw = report("县人社局7月政务公开主题日活动信息", "rsj.xtx@example.com", when(2023, 7, 10),
                 body=WRITEUP_TEXT, files=[("活动信息.docx", DOCX, docx_bytes()),
                                           ("信息.pdf", "application/pdf", pdf_bytes())])  # fmt: skip
    units = load_roster(ROSTER).unit_refs({})
    a = analyse_bounded(raw, units, received_at=when(2023, 7, 10), seconds=30)
    assert a.reading is not None
    docx_facts, pdf_facts = a.reading.docs
    assert docx_facts is not None and docx_facts.chars >= 60 and "5月12日" in docx_facts.text
    assert pdf_facts is not None and pdf_facts.chars >= 30
    assert a.reading.body_writeup and (5, 12) in a.reading.body_days


def test_plain_pictures_are_not_compared_as_reused_photos() -> None:
    # two different flat pictures (a green and a red square) both hash to all zeros: a
    # stranger's flat picture must not make a unit's own plain picture look "reused"
    from PIL import Image

    from intake.store import photo_dhash
    from tracker.evidence import telling
    from tracker.samples import photo

    green = int(photo_dhash(Image.new("RGB", (1200, 900), (20, 160, 40))), 16)
    red = int(photo_dhash(Image.new("RGB", (1200, 900), (200, 30, 30))), 16)
    assert green == red and not telling(green)
    ramp = Image.linear_gradient("L").resize((1200, 900)).rotate(90, expand=True)
    assert not telling(int(photo_dhash(ramp), 16))  # a smooth shade: nearly all one way
    import io

    real = Image.open(io.BytesIO(photo(7)))
    assert telling(int(photo_dhash(real), 16))  # a sample photo has detail

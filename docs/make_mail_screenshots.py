"""Every mail template, rendered with sample data and screenshotted in headless Chromium at
phone width (390 CSS pixels, as on most phones), into docs/mail/<name>.png.

    .venv/bin/python docs/make_mail_screenshots.py [--out docs/mail] [--width 390]

The HTML is the packaged templates' own (tracker/templates), rendered by the same
`tracker.outgoing.emails.render` the service uses; the digest is built from the sample
May 2023 workspace of docs/make_digest_screenshot.py. Chromium draws each page in a tall
window; the empty background below the mail is cut off. Needs `chromium` and a CJK font
(fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from tracker.outgoing.emails import render  # noqa: E402
from tracker.outgoing.receipts import WHAT_TO_SEND  # noqa: E402

CAMPAIGN = {
    "campaign_name": "2023年政务公开主题日",
    "office": "湘潭县政务公开和政务服务工作领导小组办公室",
    "contact": "谭思璐，电话：0731-57336133",
    "mailbox": "xtxgov@126.com",
    "sender_name": "湘潭县政务公开办",
    "sender": "xtxgov@126.com",
    "campaign": None,
}
LINK = {
    "name": "活动现场视频.mp4",
    "url": "https://mail.163.com/large-attachment-download/index.html?p=X&file=1",
    "expires": "2023-06-03 17:33",
}


def receipt(**over: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        **CAMPAIGN,
        "ref": "BS2023-0042",
        "supplement_of": "",
        "staff_decided": False,
        "units": ["河口镇"],
        "period": "2023-05",
        "period_text": "2023年5月",
        "due": date(2023, 5, 25),
        "on_time": True,
        "received_label": "2023-05-16 10:02",
        "original_subject": "",
        "complete": True,
        "missing": [],
        "missing_text": "",
        "photos": 6,
        "writeup": "河口镇政务公开主题日活动简报.docx",
        "files": [{"name": f"IMG_2023051{i}.jpg", "size": 2_400_000 + i * 91_000} for i in range(6)]
        + [{"name": "河口镇政务公开主题日活动简报.docx", "size": 48_000}],
        "links": [],
        "dispute": "",
        "original_ref": "",
    }
    ctx.update(over)
    return ctx


def reminder(stage: str, **over: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        **CAMPAIGN,
        "unit": "县消防救援大队",
        "period": "2023-05",
        "due": date(2023, 5, 25),
        "stage": stage,
        "days_left": 7,
        "days_overdue": 0,
    }
    ctx.update(over)
    return ctx


def alert(**over: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        **CAMPAIGN,
        "source": "xtxgov@126.com（imap.126.com:993 INBOX）",
        "since": "2023-05-20 08:00",
        "failures": 3,
        "last_error": "imap login failed for xtxgov@126.com: NO [AUTHENTICATIONFAILED]",
        "recovered_at": "2023-05-20 10:15",
        "caught_up": 4,
    }
    ctx.update(over)
    return ctx


# (file name, template, context): one picture per template and per wording that matters
SAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("receipt", "receipt", receipt()),
    (
        "receipt-missing",
        "receipt",
        receipt(
            units=["县林业局"],
            on_time=False,
            received_label="2023-05-27 16:40",
            complete=False,
            missing=[WHAT_TO_SEND["writeup"]],
            missing_text="文字材料（信息）",
            photos=3,
            writeup="",
            files=[{"name": f"林业局活动{i}.jpg", "size": 1_800_000} for i in range(1, 4)],
            links=[LINK],
        ),
    ),
    (
        "receipt-joint-supplement",
        "receipt",
        receipt(
            ref="BS2023-0057",
            supplement_of="BS2023-0042",
            units=["河口镇", "排头乡"],
            photos=8,
            files=[{"name": "补充照片1.jpg", "size": 2_100_000}],
        ),
    ),
    (
        "receipt-staff",
        "receipt",
        receipt(ref="BS2023-0061", staff_decided=True, units=["排头乡"]),
    ),
    (
        "receipt_review",
        "receipt_review",
        receipt(ref="BS2023-0061", units=["排头乡"], period="2023-07", photos=4, writeup="正文"),
    ),
    (
        "receipt_review-dispute",
        "receipt_review",
        receipt(
            ref="BS2023-0063",
            units=["县林业局"],
            period="2023-06",
            photos=0,
            writeup="",
            files=[],
            dispute="您好，应为6月，我局活动是6月开展的",
            original_ref="BS2023-0042",
        ),
    ),
    ("reminder_month_start", "reminder_month_start", reminder("month_start")),
    ("reminder_before", "reminder_before", reminder("before:7")),
    ("reminder_before-tomorrow", "reminder_before", reminder("before:1", days_left=1)),
    ("reminder_before-today", "reminder_before", reminder("before:0", days_left=0)),
    ("reminder_overdue", "reminder_overdue", reminder("overdue:1", days_overdue=1)),
    ("alert", "alert", alert()),
    ("alert_recovered", "alert_recovered", alert()),
]


def digest_html(ws: Path) -> str:
    """The sample digest of docs/make_digest_screenshot.py, images inlined."""
    from make_digest_screenshot import TZ, build_workspace
    from sqlalchemy import select

    from tracker.config import load_config
    from tracker.db import open_database
    from tracker.models import Liaison, Message, Unit
    from tracker.outgoing.digest import html_for_file, make_digest
    from tracker.roster import load_roster

    cfg, as_of = build_workspace(ws)
    config = load_config(cfg)
    db = open_database(config.database_url)
    with db.session() as s:  # two overdue units sent their liaison forms
        for unit, person, phone in (
            ("县发改局", "王小明", "13807320001"),
            ("县住建局", "李芳", "0731-57861234"),
        ):
            u = s.scalars(select(Unit).where(Unit.name == unit)).one()
            form = Message(
                raw_sha256=f"liaison-{u.id}".ljust(64, "0"), raw_path="", source="sample",
                from_addr="liaison@example.com", subject=f"{unit}联络员信息表",
                received_at=datetime(2023, 4, 3, 9, tzinfo=TZ),
                recorded_at=datetime(2023, 4, 3, 9, tzinfo=TZ), kind="liaison", decision="matched",
            )  # fmt: skip
            s.add(form)
            s.flush()
            fields = {"姓名": person, "手机": phone}
            s.add(
                Liaison(
                    unit_id=u.id, message_id=form.id, fields=fields, created_at=form.recorded_at
                )
            )
    with db.session() as s:
        d = make_digest(
            s,
            config,
            load_roster(config.roster_file),
            as_of,
            since=datetime(2023, 5, 15, 8, 30, tzinfo=TZ),
        )
    db.dispose()
    return html_for_file(d.html, d.images)


def trim(png: Path) -> None:
    """Cut the empty page background below the mail (keep a 16 px margin)."""
    with Image.open(png) as im:
        rgb = im.convert("RGB")
    background = Image.new("RGB", rgb.size, rgb.getpixel((0, rgb.height - 1)))
    box = ImageChops.difference(rgb, background).getbbox()
    if box:
        rgb = rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + 16)))
    rgb.save(png, optimize=True)


def screenshot(browser: str, page: Path, png: Path, width: int, height: int) -> None:
    subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--hide-scrollbars",
            "--force-device-scale-factor=2",
            f"--screenshot={png.resolve()}", f"--window-size={width},{height}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    trim(png)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "mail")
    ap.add_argument("--width", type=int, default=390)
    ap.add_argument("--height", type=int, default=2600)
    args = ap.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        pages: list[tuple[str, str, str]] = []
        for name, template, ctx in SAMPLES:
            rendered = render(template, ctx)
            pages.append((name, rendered.subject, rendered.html))
        pages.append(("digest", "（周报）", digest_html(ws / "digest")))
        for name, subject, html in pages:
            page = ws / f"{name}.html"
            page.write_text(html, encoding="utf-8")
            if not browser:
                continue
            png = args.out / f"{name}.png"
            height = args.height * 3 if name == "digest" else args.height
            screenshot(browser, page, png, args.width, height)
            print(f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}: {subject}")
    if not browser:
        print("chromium not found: nothing drawn", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

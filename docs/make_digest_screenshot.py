"""Build a realistic sample digest (May 2023) and screenshot it with headless Chromium.

    .venv/bin/python docs/make_digest_screenshot.py [--html out.html] [--png docs/digest.png]

Everything happens in a temporary workspace (SQLite database, stored photos); the
photos are drawn with Pillow. Needs `chromium` (apt-get install chromium) and a CJK font
(fonts-noto-cjk) for the screenshot; --html alone needs neither.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.config import load_config  # noqa: E402
from tracker.db import open_database  # noqa: E402
from tracker.models import (  # noqa: E402
    Attachment,
    Message,
    MessageUnit,
    Slot,
    Submission,
    Unit,
    UnitAddress,
)
from tracker.outgoing.digest import html_for_file, make_digest  # noqa: E402
from tracker.roster import load_roster  # noqa: E402
from tracker.slots import sync_roster  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def event_photo(seed: int, banner: str) -> bytes:
    """A plausible event photo: a meeting room or a square, a red banner, an audience."""
    rnd = random.Random(seed)
    w, h = 1200, 900
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    indoor = seed % 3 != 0
    top = (236, 228, 214) if indoor else (150, 190, 230)
    bottom = (190, 170, 150) if indoor else (120, 130, 110)
    for y in range(h):
        t = y / h
        d.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    # banner
    bx, by = 120 + rnd.randint(-40, 40), 90 + rnd.randint(-20, 40)
    d.rectangle([bx, by, w - bx, by + 130], fill=(196, 30, 36))
    font = _font(64)
    tw = d.textlength(banner, font=font)
    d.text(((w - tw) / 2, by + 28), banner, font=font, fill=(255, 230, 140))
    # a stage table and an audience in rows
    d.rectangle([250, 330, 950, 400], fill=(120, 40, 40))
    for row in range(4):
        y = 520 + row * 95
        for col in range(9):
            x = 60 + col * 125 + (row % 2) * 50 + rnd.randint(-10, 10)
            shirt = rnd.choice(
                [(40, 60, 90), (30, 30, 35), (200, 200, 205), (70, 90, 60), (110, 40, 40)]
            )
            d.ellipse([x + 25, y - 40, x + 75, y + 10], fill=(45, 35, 30))
            d.rounded_rectangle([x, y, x + 100, y + 90], radius=30, fill=shirt)
    im = im.filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def _store(storage: Path, data: bytes, folder: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    rel = f"{folder}/{digest[:2]}/{digest}.jpg"
    (storage / rel).parent.mkdir(parents=True, exist_ok=True)
    (storage / rel).write_bytes(data)
    return rel


def _thumb(data: bytes) -> bytes:
    im = Image.open(io.BytesIO(data))
    im.thumbnail((400, 400))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def build_workspace(ws: Path) -> tuple[Path, date]:
    storage = ws / "data"
    cfg = ws / "report-intake.toml"
    maildir = ws / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        f"""
[office]
staff = ["tansilu@xtx.gov.cn"]
[mailbox]
type = "maildir"
path = "{maildir}"
[smtp]
host = "smtp.126.com"
from = "xtxgov@126.com"
from_name = "湘潭县政务公开办"
[database]
url = "sqlite:///{ws / "db.sqlite3"}"
[storage]
dir = "{storage}"
[roster]
file = "{ROOT / "examples" / "roster.toml"}"
[digest]
recipients = ["tansilu@xtx.gov.cn", "zhuren@xtx.gov.cn"]
""",
        encoding="utf-8",
    )
    config = load_config(cfg)
    roster = load_roster(config.roster_file)
    db = open_database(config.database_url)

    def when(m: int, d: int, hh: int, mm: int = 0) -> datetime:
        return datetime(2023, m, d, hh, mm, tzinfo=TZ).astimezone(UTC)

    reports = [
        # unit, period, received, from, name, subject, photos, link
        ("云湖桥镇", "2023-04", when(4, 21, 10, 12), "yhqz.xtx@example.com", "云湖桥镇党政办", "云湖桥镇4月政务公开主题日活动情况", 4, None),
        ("中路铺镇", "2023-04", when(5, 9, 15, 40), "zlpz.xtx@example.com", "中路铺镇", "中路铺镇政务公开主题日（补报）", 3, None),
        ("县林业局", "2023-05", when(5, 16, 9, 31), "lyj.xtx@example.com", "县林业局办公室", "湘潭县林业局五月份政务公开主题日活动信息", 7, None),
        ("河口镇", "2023-05", when(5, 19, 17, 5), "hkz.xtx@example.com", "河口镇党政办", "回复：河口镇5月“政务公开主题日”活动开展情况", 3,
         ("活动视频及全部照片.zip", when(5, 24, 17, 5), 85_000_000)),
    ]  # fmt: skip
    with db.session() as s:
        sync_roster(s, roster)
        fire = s.scalars(select(Unit).where(Unit.name == "县消防救援大队")).one()
        for a in s.scalars(select(UnitAddress).where(UnitAddress.unit_id == fire.id)):
            s.delete(a)
        for n, (unit_name, period, received, addr, name, subject, photos, link) in enumerate(
            reports
        ):
            msg = Message(
                raw_sha256=hashlib.sha256(subject.encode()).hexdigest(),
                raw_path=f"raw/{n}.eml",
                source="imap://xtxgov@126.com/INBOX",
                uid=100 + n,
                message_id=f"<sample{n}@126.com>",
                from_addr=addr,
                from_name=name,
                subject=subject,
                sent_at=received,
                received_at=received,
                recorded_at=received,
                kind="report",
                decision="matched",
                period=period,
                confidence=0.97,
                reasons=["主题中的单位名"],
            )
            s.add(msg)
            s.flush()
            unit = s.scalars(select(Unit).where(Unit.name == unit_name)).one()
            slot = s.scalars(
                select(Slot).where(Slot.unit_id == unit.id, Slot.period == period)
            ).one()
            s.add(MessageUnit(message_id=msg.id, unit_id=unit.id))
            s.add(Submission(message_id=msg.id, slot_id=slot.id, created_at=received))
            for i in range(photos):
                data = event_photo(n * 10 + i, f"{unit_name}政务公开主题日")
                s.add(
                    Attachment(
                        message_id=msg.id, kind="file", filename=f"IMG_{2300 + i}.jpg",
                        safe_name=f"IMG_{2300 + i}.jpg", content_type="image/jpeg", size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), relpath=_store(storage, data, "files"),
                        is_image=True, width=1200, height=900,
                        thumb_relpath=_store(storage, _thumb(data), "thumbs"),
                    )
                )  # fmt: skip
            s.add(
                Attachment(
                    message_id=msg.id, kind="file", filename=f"{unit_name}活动信息.docx",
                    safe_name=f"{unit_name}活动信息.docx", size=24_576,
                    content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                )
            )  # fmt: skip
            if link:
                s.add(
                    Attachment(
                        message_id=msg.id, kind="link", filename=link[0], size=link[2],
                        url="https://mail.163.com/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT&file=sample",
                        provider="netease", expires_at=link[1],
                    )
                )  # fmt: skip
        for n, (addr, subject, reasons) in enumerate(
            [
                ("13907321234@139.com", "活动照片", ["未能确定报送单位：主题和正文都没有单位名", "发件地址不在登记名单中"]),
                ("xtxsjj@163.com", "政务公开主题日活动情况", ["单位名“县市场监管局”与多个单位相近", "月份不明确"]),
            ]
        ):  # fmt: skip
            s.add(
                Message(
                    raw_sha256=hashlib.sha256(f"review{n}".encode()).hexdigest(),
                    raw_path=f"raw/r{n}.eml", source="imap://xtxgov@126.com/INBOX", uid=200 + n,
                    from_addr=addr, subject=subject, received_at=when(5, 20 + n, 11), recorded_at=when(5, 20 + n, 11),
                    kind="report", decision="review", reasons=reasons,
                )
            )  # fmt: skip
    db.dispose()
    return cfg, date(2023, 5, 22)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, help="Keep the HTML here.")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "digest.png")
    ap.add_argument("--height", type=int, default=3460)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        cfg, as_of = build_workspace(ws)
        config = load_config(cfg)
        roster = load_roster(config.roster_file)
        db = open_database(config.database_url)
        since = datetime(2023, 5, 15, 8, 30, tzinfo=TZ)
        with db.session() as s:
            d = make_digest(s, config, roster, as_of, since=since)
        db.dispose()
        html = html_for_file(d.html, d.images)
        page = args.html or ws / "digest.html"
        page.write_text(html, encoding="utf-8")
        print(f"subject: {d.message['Subject']}")
        print(f"size: {len(d.message.as_bytes()) // 1024} KB, {len(d.images)} contact sheet(s)")
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if not browser:
            print("chromium not found: HTML only", file=sys.stderr)
            return 0 if args.html else 1
        args.png.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--hide-scrollbars",
                f"--screenshot={args.png.resolve()}", f"--window-size=800,{args.height}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        print(f"screenshot: {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

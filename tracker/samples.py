"""Sample mail for the demo: realistic reports from the example roster, in the encodings
and shapes real mail comes in (GBK labelled gb2312, Big5, raw 8-bit headers, Foxmail
attachment names, a phone's HEIC photo, a 超大附件 link, an auto-reply, a bounce, a mail
that breaks MIME), written into a Maildir."""

from __future__ import annotations

import io
import mailbox
import os
import random
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = "xtxgov@126.com"


def photo(seed: int, size: tuple[int, int] = (1200, 800), fmt: str = "JPEG") -> bytes:
    """A made-up event photo: sky, ground, a banner and some people-shaped blobs."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, (135 + rnd.randint(0, 60), 180, 235))
    d = ImageDraw.Draw(img)
    w, h = size
    d.rectangle([0, int(h * 0.6), w, h], fill=(90 + rnd.randint(0, 40), 140, 80))
    d.rectangle([int(w * 0.15), int(h * 0.15), int(w * 0.85), int(h * 0.32)], fill=(200, 30, 30))
    d.rectangle([int(w * 0.2), int(h * 0.21), int(w * 0.8), int(h * 0.26)], fill=(250, 220, 60))
    for _ in range(14):
        x, y = rnd.randint(0, w - 60), rnd.randint(int(h * 0.45), int(h * 0.8))
        color = (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255))
        d.ellipse([x + 15, y - 30, x + 45, y], fill=(240, 200, 160))
        d.rectangle([x, y, x + 60, y + 90], fill=color)
    out = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    img.save(out, fmt, quality=80)
    return out.getvalue()


@dataclass
class Sample:
    """One sample mail and what the demo expects the pipeline to make of it."""

    name: str
    sent: datetime
    build: object = field(repr=False)


def _date(y: int, m: int, d: int, hh: int = 10, mm: int = 12) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def _base(
    sender: str,
    subject: str | bytes,
    sent: datetime,
    charset: str = "utf-8",
    domain: str = "126.com",
) -> MIMEMultipart:
    msg = MIMEMultipart()
    msg["From"] = sender
    msg["To"] = OFFICE
    if isinstance(subject, str):
        msg["Subject"] = Header(subject, charset).encode()
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = make_msgid(domain=domain)
    return msg


def _from(name: str, address: str, charset: str = "utf-8") -> str:
    return f"{Header(name, charset).encode()} <{address}>"


def _text(body: str, charset: str = "utf-8") -> MIMEText:
    if charset == "gbk-as-gb2312":
        part = MIMEText("", "plain", "gb2312")
        part.set_payload(body.encode("gbk"))
        part.replace_header("Content-Transfer-Encoding", "8bit")
        return part
    return MIMEText(body, "plain", charset)


def _attach(
    msg: MIMEMultipart, data: bytes, ctype: str, filename: str, style: str = "rfc2231"
) -> None:
    main, sub = ctype.split("/")
    part = MIMEBase(main, sub)
    part.set_payload(data)
    from email import encoders

    encoders.encode_base64(part)
    if style == "rfc2231":
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    else:  # Foxmail/Outlook: RFC 2047 inside quotes, GBK
        encoded = Header(filename, "gb18030").encode()
        part.add_header("Content-Disposition", f'attachment; filename="{encoded}"')
        part.set_param("name", encoded)
    msg.attach(part)


def build_samples() -> list[tuple[str, datetime, bytes]]:
    """(name, sent, raw bytes) for every sample mail."""
    out: list[tuple[str, datetime, bytes]] = []

    def add(name: str, sent: datetime, msg: Message | bytes) -> None:
        out.append((name, sent, msg if isinstance(msg, bytes) else msg.as_bytes()))

    # 1. 县发改局, April, on time, UTF-8, two photos.
    sent = _date(2023, 4, 20)
    m = _base(
        _from("湘潭县发展和改革局", "fgj.xtx@example.com"),
        "县发改局4月“政务公开主题日”活动开展情况",
        sent,
    )
    m.attach(
        _text(
            "您好！\n我局于4月18日在县政务服务中心开展了政务公开主题日活动，现将活动信息及图片报送如下。\n\n湘潭县发展和改革局\n"
        )
    )
    _attach(m, photo(1), "image/jpeg", "发改局主题日活动1.jpg")
    _attach(m, photo(2), "image/jpeg", "发改局主题日活动2.jpg")
    add("fgj-april", sent, m)

    # 2. 云湖桥镇, April, GBK bytes labelled gb2312 (喆 is not in GB2312), Foxmail names.
    sent = _date(2023, 4, 24, 16, 40)
    m = _base(
        _from("云湖桥镇党政办", "yhqz.xtx@example.com", "gb18030"),
        "云湖桥镇政务公开主题日活动信息（4月）",
        sent,
        "gb18030",
    )
    m.attach(
        _text(
            "县政务公开办：\n4月21日，我镇在云湖桥集市开展政务公开主题日宣传活动，发放资料300余份。\n联系人：王喆\n",
            "gbk-as-gb2312",
        )
    )
    _attach(m, photo(3), "image/jpeg", "云湖桥镇活动照片.jpg", style="foxmail")
    add("yhqz-april-gbk", sent, m)

    # 3. 中路铺镇, April, sent after the 25th (late), raw 8-bit GBK subject.
    sent = _date(2023, 4, 27, 9, 5)
    m = _base("zlpz.xtx@example.com", "", sent)
    del m["Subject"]
    m.attach(_text("附件为中路铺镇四月份政务公开主题日活动图片，请查收。"))
    _attach(m, photo(4), "image/jpeg", "中路铺镇.jpg")
    raw = m.as_bytes().replace(
        b"MIME-Version:",
        "Subject: 中路铺镇四月份政务公开主题日活动\n".encode("gbk") + b"MIME-Version:",
        1,
    )
    add("zlpz-april-late-raw-gbk", sent, raw)

    # 4. 县住建局, April, Big5 (traditional characters) from an old client.
    sent = _date(2023, 4, 19, 11, 30)
    m = _base(
        _from("湘潭縣住房和城鄉建設局", "zjj.xtx@example.com", "big5"),
        "湘潭縣住房和城鄉建設局政務公開主題日活動報送",
        sent,
        "big5",
    )
    m.attach(MIMEText("我局於4月14日開展政務公開主題日活動，現報送活動圖片。", "plain", "big5"))
    _attach(m, photo(5), "image/jpeg", "住建局活動.jpg")
    add("zjj-april-big5", sent, m)

    # 5. 县农业农村局: a reply to the notice carrying the report.
    sent = _date(2023, 4, 25, 17, 55)
    m = _base(
        _from("农业农村局办公室", "nyncj.xtx@example.com"),
        "回复：关于组织开展“政务公开主题日”活动的通知",
        sent,
    )
    m["In-Reply-To"] = "<notice-2023@126.com>"
    m.attach(
        _text(
            "县农业农村局4月主题日活动图片及信息见附件。\n\n------------------ 原始邮件 ------------------\n发件人: 湘潭县政务公开办 <xtxgov@126.com>\n"
        )
    )
    _attach(m, photo(6), "image/jpeg", "县农业农村局主题日活动图片.jpg", style="foxmail")
    add("nyncj-april-reply", sent, m)

    # 6. 县林业局, May: a photo plus a NetEase 超大附件 link for the video.
    sent = _date(2023, 5, 16, 15, 20)
    m = _base(
        _from("县林业局", "lyj.xtx@example.com"),
        "县林业局5月政务公开主题日活动信息",
        sent,
        domain="163.com",
    )
    body = (
        "5月16日，我局在林业站开展政务公开主题日活动。活动视频较大，以超大附件发送。\n\n"
        "从网易163邮箱发来的超大附件\n"
        "主题日活动视频.mp4 (80.96M, 2023年05月31日 15:20 到期)\n"
        "下载: https://mail.163.com/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT&file=abc123demo\n"
    )
    m.attach(MIMEText(body, "plain", "utf-8"))
    _attach(m, photo(7), "image/jpeg", "林业局活动.jpg")
    add("lyj-may-cloud-link", sent, m)

    # 7. 石潭镇, June, a phone's HEIC photo.
    sent = _date(2023, 6, 12, 20, 1)
    m = _base(
        _from("石潭镇", "stz.xtx@example.com"), "石潭镇6月份主题日活动图片", sent, domain="qq.com"
    )
    m.attach(_text("发自我的iPhone"))
    _attach(m, photo(8, (1000, 750), fmt="HEIF"), "image/heic", "IMG_2031.HEIC")
    add("stz-june-heic", sent, m)

    # 8. 县卫健局 and 县民政局: one joint event, one mail.
    sent = _date(2023, 6, 20, 10, 0)
    m = _base(
        _from("湘潭县卫生健康局", "wjj.xtx@example.com"),
        "县卫健局、县民政局联合开展6月政务公开主题日活动",
        sent,
    )
    m.attach(_text("6月16日，县卫健局与县民政局在县人民医院门诊大厅联合开展政务公开主题日活动。"))
    _attach(m, photo(9), "image/jpeg", "联合活动.jpg")
    add("wjj-mzj-june-joint", sent, m)

    # 9. 县消防救援大队: the liaison form (annex 5).
    sent = _date(2023, 4, 10, 9, 0)
    m = _base(
        _from("消防大队", "xfjydd.xtx@example.com"),
        "县消防救援大队政务公开主题日活动联络员信息表",
        sent,
    )
    m.attach(
        _text(
            "单位名称：湘潭县消防救援大队\n姓名：李明\n性别：男\n职务：文员\n手机：13800000000\n电子邮箱：xfjydd.xtx@example.com\n"
        )
    )
    add("xfjydd-liaison", sent, m)

    # 10. An auto-reply: never a report, never answered.
    sent = _date(2023, 5, 2, 8, 0)
    m = _base(
        _from("县教育局", "jyj.xtx@example.com"),
        "自动回复：关于报送政务公开主题日活动情况的提醒",
        sent,
    )
    m["Auto-Submitted"] = "auto-replied"
    m.attach(_text("您好，您的邮件已收到，我将尽快处理。"))
    add("auto-reply", sent, m)

    # 11. A bounce.
    sent = _date(2023, 5, 3, 8, 0)
    m = _base("MAILER-DAEMON@126.com", "系统退信", sent)
    m.attach(_text("抱歉，您的邮件被退回。"))
    raw = b"Return-Path: <>\n" + m.as_bytes()
    add("bounce", sent, raw)

    # 12. A photo from an address nobody knows, naming no unit: review.
    sent = _date(2023, 5, 20, 21, 13)
    m = _base("13912345678@163.com", "活动照片", sent, domain="163.com")
    m.attach(_text(""))
    _attach(m, photo(10), "image/jpeg", "微信图片_20230520.jpg")
    add("unknown-photo", sent, m)

    # 13. Broken MIME: a multipart whose boundary never comes. Kept raw, sent to review.
    sent = _date(2023, 5, 21, 12, 0)
    broken = (
        "From: someone@qq.com\nTo: xtxgov@126.com\nSubject: =?gb2312?B?1ve3?=\n"
        f"Date: {format_datetime(sent)}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="never-comes"\n\n'
        "garbage without the boundary\n\x00\x01\x02\n"
    ).encode("latin-1")
    add("broken-mime", sent, broken)

    # 14. 排头乡, May, on time, with the month in Chinese numerals.
    sent = _date(2023, 5, 24, 18, 45)
    m = _base(
        _from("排头乡人民政府", "ptx.xtx@example.com"),
        "排头乡五月份政务公开主题日活动开展情况",
        sent,
    )
    m.attach(_text("五月二十日，我乡结合集市开展政务公开主题日活动。"))
    _attach(m, photo(11), "image/jpeg", "排头乡.jpg")
    add("ptx-may", sent, m)
    return out


def write_maildir(path: Path) -> list[str]:
    """Write every sample into a Maildir at `path`; the files' times are the sending times."""
    box = mailbox.Maildir(str(path), create=True)
    names = []
    for name, sent, raw in build_samples():
        key = box.add(raw)
        file = Path(path) / "new" / key
        ts = sent.timestamp()
        os.utime(file, (ts, ts))
        names.append(name)
    return names

"""Write the matcher's labelled corpus: realistic .eml files and expected.toml.

Run from the repository root:  .venv/bin/python tests/corpus/make_corpus.py

Every mail is built byte by byte the way Chinese mail clients really send it: UTF-8,
GBK bytes labelled gb2312, GB18030, Big5, raw 8-bit GBK headers, base64 and
quoted-printable bodies, RFC 2231 / RFC 2047 / raw attachment names. The output is
deterministic (fixed boundaries, dates and zip timestamps), so a test can check that the
committed files are what this script writes.
"""

from __future__ import annotations

import base64
import io
import quopri
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
OUT = HERE / "mails"
CST = timezone(timedelta(hours=8))
OFFICE = "xtxgov@126.com"

# Labels as written in the mail -> the codec the bytes are really in.
CODECS = {
    "utf-8": "utf-8",
    "gb2312": "gbk",  # GBK bytes mislabelled gb2312, as Foxmail and old Outlook do
    "gbk": "gbk",
    "gb18030": "gb18030",
    "big5": "big5",
}


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite an Office file's zip with fixed timestamps so the corpus is reproducible."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            fixed = zipfile.ZipInfo(info.filename, date_time=(2023, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with now
                data = re.sub(rb">\d{4}-\d\d-\d\dT[\d:.]+Z?<", b">2023-04-01T00:00:00Z<", data)
            dst.writestr(fixed, data)
    return out.getvalue()


def jpeg(seed: int) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (16, 12), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def liaison_xlsx(fields: dict[str, str]) -> bytes:
    """Annex 5 as units fill it in Excel: a title row, then label/value pairs three per row."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "联络员信息表"
    sheet.append(["“政务公开主题日”活动联络员信息表"])
    sheet.append(["单位名称", fields.get("单位名称", ""), None, None, None, None])
    sheet.append(
        [
            "姓名",
            fields.get("姓名", ""),
            "性别",
            fields.get("性别", ""),
            "职务",
            fields.get("职务", ""),
        ]
    )
    sheet.append(
        [
            "办公电话",
            fields.get("办公电话", ""),
            "手机",
            fields.get("手机", ""),
            "传真",
            fields.get("传真", ""),
        ]
    )
    sheet.append(
        [
            "QQ号",
            fields.get("QQ号", ""),
            "微信号",
            fields.get("微信号", ""),
            "电子邮箱",
            fields.get("电子邮箱", ""),
        ]
    )
    sheet.merge_cells("B2:F2")
    book.properties.created = datetime(2023, 4, 1)
    book.properties.modified = datetime(2023, 4, 1)
    buf = io.BytesIO()
    book.save(buf)
    return _fixed_zip(buf.getvalue())


def liaison_docx(fields: dict[str, str]) -> bytes:
    """Annex 5 as a Word table, the unit name in a merged cell."""
    import docx

    document = docx.Document()
    document.add_paragraph("附件5")
    document.add_paragraph("“政务公开主题日”活动联络员信息表")
    table = document.add_table(rows=4, cols=6)
    rows = [
        ["单位名称", fields.get("单位名称", ""), "", "", "", ""],
        [
            "姓名",
            fields.get("姓名", ""),
            "性别",
            fields.get("性别", ""),
            "职务",
            fields.get("职务", ""),
        ],
        [
            "办公电话",
            fields.get("办公电话", ""),
            "手机",
            fields.get("手机", ""),
            "传真",
            fields.get("传真", ""),
        ],
        [
            "QQ号",
            fields.get("QQ号", ""),
            "微信号",
            fields.get("微信号", ""),
            "电子邮箱",
            fields.get("电子邮箱", ""),
        ],
    ]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    merged = table.cell(0, 1).merge(table.cell(0, 5))
    merged.text = fields.get("单位名称", "")
    document.core_properties.created = datetime(2023, 4, 1)
    document.core_properties.modified = datetime(2023, 4, 1)
    buf = io.BytesIO()
    document.save(buf)
    return _fixed_zip(buf.getvalue())


def report_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    document.core_properties.created = datetime(2023, 4, 1)
    document.core_properties.modified = datetime(2023, 4, 1)
    buf = io.BytesIO()
    document.save(buf)
    return _fixed_zip(buf.getvalue())


# ---------------------------------------------------------------------------------------------
# MIME writing


def encoded_word(text: str, label: str = "utf-8", enc: str = "B", split_bytes: int = 0) -> str:
    """RFC 2047 words; `split_bytes` > 0 splits the bytes blindly (mid-character, as some do)."""
    data = text.encode(CODECS[label])
    if split_bytes:
        chunks = [data[i : i + split_bytes] for i in range(0, len(data), split_bytes)]
    else:
        chunks, current = [], b""
        for ch in text:
            b = ch.encode(CODECS[label])
            if len(current) + len(b) > 42:
                chunks.append(current)
                current = b""
            current += b
        chunks.append(current)
    words = []
    for chunk in chunks:
        if enc == "B":
            words.append(f"=?{label}?B?{base64.b64encode(chunk).decode()}?=")
        else:
            q = "".join(chr(c) if chr(c).isalnum() and c < 128 else f"={c:02X}" for c in chunk)
            words.append(f"=?{label}?Q?{q}?=")
    return "\r\n ".join(words)


@dataclass
class Header:
    """A header value: plain ASCII, encoded words, or raw 8-bit bytes."""

    text: str
    label: str = "utf-8"
    style: str = "B"  # B | Q | raw | split | ascii

    def render(self) -> bytes:
        if self.style == "ascii" or self.text.isascii():
            return self.text.encode("ascii")
        if self.style == "raw":
            return self.text.encode(CODECS[self.label])
        if self.style == "split":
            return encoded_word(self.text, self.label, "B", split_bytes=7).encode("ascii")
        return encoded_word(self.text, self.label, self.style).encode("ascii")


@dataclass
class Att:
    filename: str
    payload: bytes
    content_type: str = "image/jpeg"
    name_style: str = "rfc2231"  # rfc2231 | rfc2047 | raw
    label: str = "utf-8"
    inline_cid: str | None = None


@dataclass
class Mail:
    name: str
    expect: tuple[str, str, tuple[str, ...], str | None]  # kind, decision, units, period
    subject: str | Header
    date: str  # "2023-05-18 10:31"
    from_addr: str = "unit@example.net"
    from_name: str | Header = ""
    text: str | None = None
    html: str | None = None
    charset: str = "utf-8"
    cte: str = "base64"  # base64 | quoted-printable | 8bit
    attachments: list[Att] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    in_reply_to: str | None = None
    return_path: str | None = None  # None: same as From; "" : null sender
    top: str | None = None  # a whole top-level part instead (bounces)
    note: str = ""


def _body_part(content: str, subtype: str, label: str, cte: str) -> bytes:
    data = content.encode(CODECS[label])
    head = f'Content-Type: text/{subtype}; charset="{label}"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    if cte == "base64":
        body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    elif cte == "quoted-printable":
        body = quopri.encodestring(data).replace(b"\n", b"\r\n")
    else:
        body = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head.encode("ascii") + body + b"\r\n"


def _attachment_part(att: Att) -> bytes:
    if att.name_style == "rfc2231":
        enc = quote(att.filename.encode(CODECS[att.label]), safe="")
        params = f"; name*={att.label}''{enc}".encode()
        disp = f"; filename*={att.label}''{enc}".encode()
    elif att.name_style == "rfc2047":
        word = encoded_word(att.filename, att.label, "B").replace("\r\n ", "")
        params = f'; name="{word}"'.encode()
        disp = f'; filename="{word}"'.encode()
    else:
        raw = att.filename.encode(CODECS[att.label])
        params = b'; name="' + raw + b'"'
        disp = b'; filename="' + raw + b'"'
    kind = "inline" if att.inline_cid else "attachment"
    out = b"Content-Type: " + att.content_type.encode() + params + b"\r\n"
    out += b"Content-Transfer-Encoding: base64\r\n"
    if att.inline_cid:
        out += f"Content-ID: <{att.inline_cid}>\r\n".encode()
    out += b"Content-Disposition: " + kind.encode() + disp + b"\r\n\r\n"
    out += base64.encodebytes(att.payload).replace(b"\n", b"\r\n")
    return out


def _multipart(subtype: str, boundary: str, parts: list[bytes], extra: str = "") -> bytes:
    out = f'Content-Type: multipart/{subtype};{extra}\r\n boundary="{boundary}"\r\n\r\n'.encode()
    out += b"This is a multi-part message in MIME format.\r\n\r\n"
    for part in parts:
        out += f"--{boundary}\r\n".encode() + part + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def render(mail: Mail, serial: int) -> bytes:
    when = datetime.strptime(mail.date, "%Y-%m-%d %H:%M").replace(tzinfo=CST)
    subject = mail.subject if isinstance(mail.subject, Header) else Header(mail.subject)
    name = mail.from_name if isinstance(mail.from_name, Header) else Header(mail.from_name)
    lines: list[bytes] = []
    if mail.return_path is not None:
        lines.append(f"Return-Path: <{mail.return_path}>".encode())
    else:
        lines.append(f"Return-Path: <{mail.from_addr}>".encode())
    lines.append(
        b"Received: from mail.example.net (unknown [10.0.0.1]) by mx.126.com; "
        + format_datetime(when).encode()
    )
    if name.text:
        rendered = name.render()
        if name.style in ("raw",) or rendered.startswith(b"=?"):
            lines.append(b"From: " + rendered + f" <{mail.from_addr}>".encode())
        else:
            lines.append(b'From: "' + rendered + f'" <{mail.from_addr}>'.encode())
    else:
        lines.append(f"From: {mail.from_addr}".encode())
    lines.append(f"To: {OFFICE}".encode())
    lines.append(b"Subject: " + subject.render())
    lines.append(f"Date: {format_datetime(when)}".encode())
    lines.append(f"Message-ID: <corpus.{serial:03d}.{when:%Y%m%d%H%M}@example.net>".encode())
    if mail.in_reply_to:
        lines.append(f"In-Reply-To: {mail.in_reply_to}".encode())
        lines.append(f"References: {mail.in_reply_to}".encode())
    for key, value in mail.headers:
        lines.append(f"{key}: {value}".encode())
    lines.append(b"MIME-Version: 1.0")
    head = b"\r\n".join(lines) + b"\r\n"

    if mail.top is not None:
        return head + mail.top.encode("utf-8").replace(b"\n", b"\r\n")

    bodies = []
    if mail.text is not None:
        bodies.append(_body_part(mail.text, "plain", mail.charset, mail.cte))
    if mail.html is not None:
        bodies.append(_body_part(mail.html, "html", mail.charset, mail.cte))
    if len(bodies) == 2:
        body = _multipart("alternative", f"----=_alt_{serial:03d}", bodies)
    elif bodies:
        body = bodies[0]
    else:
        body = _body_part("", "plain", "utf-8", "7bit")
    if not mail.attachments:
        return head + body
    parts = [body] + [_attachment_part(a) for a in mail.attachments]
    return head + _multipart("mixed", f"----=_mix_{serial:03d}", parts)


# ---------------------------------------------------------------------------------------------
# The cases

R, L, OT = "report", "liaison", "other"
M, V, IG = "matched", "review", "ignored"


def photos(prefix: str, n: int, style: str = "rfc2231", label: str = "utf-8") -> list[Att]:
    return [
        Att(f"{prefix}{i}.jpg", jpeg(i + len(prefix)), "image/jpeg", style, label)
        for i in range(1, n + 1)
    ]


QUOTED_REMINDER = """
------------------ 原始邮件 ------------------
发件人: "湘潭县政务公开办" <xtxgov@126.com>;
发送时间: 2023年8月21日(星期一) 上午9:12
收件人: "各单位";
主题: 关于报送政务公开主题日活动情况的通知

各相关单位：
请县财政局、县审计局、县科工局于8月25日前将8月份“政务公开主题日”活动开展情况及图片报送至xtxgov@126.com。
湘潭县政务公开和政务服务工作领导小组办公室
"""

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NETEASE_LINK = (
    "https://mail.163.com/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT"
    "&file=AbCdEf0123456789&title=%E4%B8%BB%E9%A2%98%E6%97%A5%E8%A7%86%E9%A2%91"
)


def cases() -> list[Mail]:
    c: list[Mail] = []
    add = c.append

    # --- A. the unit and month in the subject, in every encoding ------------------------------
    add(
        Mail(
            "a01-lyj-utf8.eml",
            (R, M, ("县林业局",), "2023-05"),
            "县林业局5月政务公开主题日活动信息",
            "2023-05-17 16:02",
            "lyj.xtx@example.com",
            "县林业局",
            text="谭老师：\n    您好！我局于5月16日在县林业局办公楼前坪开展“政务公开主题日”活动，"
            "现场发放宣传资料300余份，解答群众咨询40余人次。活动图片见附件。\n\n县林业局办公室\n",
            attachments=photos("林业局主题日活动", 2),
        )
    )
    add(
        Mail(
            "a02-rsj-gb2312-gbk.eml",
            (R, M, ("县人社局",), "2023-07"),
            Header("【湘潭县人力资源和社会保障局】政务公开主题日活动开展情况报送", "gb2312"),
            "2023-07-18 09:40",
            "xtrsj2019@163.com",
            Header("王喆", "gb2312"),
            text="7月14日上午，我局在县政务服务中心一楼大厅开展了以“稳就业、惠民生”为主题的政务公开主题日活动，"
            "局党组成员、副局长刘堃带队，向来往群众宣讲就业创业、社保待遇等政策。\n\n联系人：王喆 0731-57812345",
            charset="gb2312",
            attachments=photos("DSC_07", 3),
        )
    )
    add(
        Mail(
            "a03-stz-photos.eml",
            (R, M, ("石潭镇",), "2023-06"),
            "石潭镇6月份主题日活动图片",
            "2023-06-20 17:45",
            "1534427788@qq.com",
            "A 石潭 小刘",
            text="请查收",
            attachments=photos("石潭镇主题日", 4),
        )
    )
    add(
        Mail(
            "a04-hkz-gb18030-qp.eml",
            (R, M, ("河口镇",), "2023-05"),
            Header("河口镇五月份“政务公开主题日”活动开展情况", "gb18030", "Q"),
            "2023-05-24 11:20",
            "hkzdzb@163.com",
            Header("河口镇党政办", "gb18030"),
            text="河口镇于5月19日利用集市日在河口老街开展政务公开主题日宣传活动，悬挂横幅2条，"
            "发放《中华人民共和国政府信息公开条例》宣传册200余份。",
            charset="gb18030",
            cte="quoted-printable",
            attachments=photos("河口", 2),
        )
    )
    add(
        Mail(
            "a05-ptx-docx-report.eml",
            (R, M, ("排头乡",), "2023-05"),
            "排头乡2023年05月政务公开主题日活动简报",
            "2023-05-23 15:06",
            "ptxzf@126.com",
            "",
            text="简报及图片见附件，请审阅。",
            attachments=[
                Att(
                    "排头乡政务公开主题日活动简报.docx",
                    report_docx(
                        [
                            "排头乡政务公开主题日活动简报",
                            "5月18日，排头乡在乡政府便民服务中心开展活动。",
                        ]
                    ),
                    DOCX,
                    "rfc2047",
                    "gb2312",
                ),
                *photos("IMG_2023051", 2),
            ],
        )
    )
    add(
        Mail(
            "a06-xfjydd-big5.eml",
            (R, M, ("县消防救援大队",), "2023-05"),
            Header("湘潭縣消防救援大隊5月份政務公開主題日活動信息", "big5"),
            "2023-05-22 10:11",
            "xtxxf119@163.com",
            Header("消防大隊宣傳科", "big5"),
            text="5月19日，我大隊在縣城步步高廣場開展政務公開主題日暨消防安全宣傳活動。",
            charset="big5",
            attachments=photos("xf", 2),
        )
    )
    add(
        Mail(
            "a07-wjj-raw-gbk-subject.eml",
            (R, M, ("县卫健局",), "2023-06"),
            Header("县卫健局6月政务公开主题日活动", "gbk", "raw"),
            "2023-06-21 08:55",
            "xtwjj@163.com",
            Header("卫健局办公室", "gbk", "raw"),
            text="6月20日，县卫健局在县人民医院门诊大厅开展政务公开主题日活动。",
            charset="gbk",
            cte="8bit",
            attachments=photos("卫健", 2, "raw", "gbk"),
        )
    )
    add(
        Mail(
            "a08-xfdd-fullwidth.eml",
            (R, M, ("县消防救援大队",), "2023-05"),
            "县消防大队５月主题日活动照片",
            "2023-05-26 18:30",
            "xfdd_xt@sina.com",
            "",
            text="照片５张，请查收。",
            attachments=photos("现场", 5),
        )
    )
    add(
        Mail(
            "a09-mzj-dot-period.eml",
            (R, M, ("县民政局",), "2023-06"),
            "县民政局2023.6政务公开主题日活动",
            "2023-06-16 14:22",
            "mzj.xtx@example.com",
            "湘潭县民政局",
            html="<html><body><p>您好：</p><p>附件为我局2023.6政务公开主题日活动图片，请查收。</p></body></html>",
            attachments=photos("民政", 2),
        )
    )
    add(
        Mail(
            "a10-ybj-dash-period.eml",
            (R, M, ("县医保局",), "2023-06"),
            "县医保局 2023-06 主题日活动信息报送",
            "2023-06-25 09:03",
            "ybj.xtx@example.com",
            "",
            text="6月15日，我局在医保服务大厅开展政务公开主题日活动，详见附件。",
            attachments=[
                Att("医保局主题日信息.docx", report_docx(["医保局政务公开主题日活动信息"]), DOCX),
                *photos("yb", 1),
            ],
        )
    )
    add(
        Mail(
            "a11-jyj-slash-period.eml",
            (R, M, ("县教育局",), "2023-07"),
            "县教育局2023/7主题日活动",
            "2023-07-24 16:48",
            "xtjyj@126.com",
            "县教育局 张老师",
            text="各位领导：\n县教育局于7月20日开展政务公开主题日活动，图片附后。",
            attachments=photos("jy", 3),
        )
    )
    add(
        Mail(
            "a12-slj-cn-november.eml",
            (R, M, ("县水利局",), "2023-11"),
            "十一月 县水利局政务公开主题日活动",
            "2023-11-17 10:00",
            "slj.xtx@example.com",
            "",
            text="我局十一月政务公开主题日活动材料见附件。",
            attachments=photos("水利", 2),
        )
    )
    add(
        Mail(
            "a13-jsx-cn-november-fen.eml",
            (R, M, ("锦石乡",), "2023-11"),
            Header("锦石乡十一月份政务公开主题日活动信息", "gb2312"),
            "2023-11-20 15:35",
            "jsx_gov@163.com",
            "",
            text="锦石乡于11月16日开展政务公开主题日活动。",
            charset="gb2312",
            attachments=photos("锦石", 2),
        )
    )
    add(
        Mail(
            "a14-yshz-cn-december.eml",
            (R, M, ("易俗河镇",), "2023-12"),
            "易俗河镇十二月份主题日活动",
            "2023-12-22 11:11",
            "yshz2023@163.com",
            "易俗河镇政府办",
            text="活动图片和简讯见附件。",
            attachments=photos("易俗河", 3),
        )
    )
    add(
        Mail(
            "a15-swj-january-about-december.eml",
            (R, M, ("县商务局",), "2023-12"),
            "县商务局12月政务公开主题日活动信息（补报）",
            "2024-01-08 09:30",
            "xtswj@163.com",
            "",
            text="因年底工作繁忙，现补报我局12月政务公开主题日活动信息，12月28日在商贸城开展。",
            attachments=photos("商务", 2),
        )
    )
    add(
        Mail(
            "a16-yczmj-cn-year.eml",
            (R, M, ("县烟草专卖局",), "2023-12"),
            "二〇二三年十二月湘潭县烟草专卖局（分公司）政务公开主题日",
            "2023-12-26 17:02",
            "yc_xtx@126.com",
            "",
            text="附件为活动图片。",
            attachments=photos("yc", 2),
        )
    )
    add(
        Mail(
            "a17-gxs-cn-year-ling.eml",
            (R, M, ("县供销社",), "2023-12"),
            "县供销社二零二三年十二月主题日活动",
            "2023-12-19 10:45",
            "gxs.xtx@example.com",
            "",
            text="请查收。",
            attachments=photos("供销", 1),
        )
    )
    add(
        Mail(
            "a18-gdgs-state-grid.eml",
            (R, M, ("县供电公司",), "2023-11"),
            "国网湘潭县供电公司11月政务公开主题日活动",
            "2023-11-23 16:20",
            "gw_xtgd@163.com",
            "",
            text="11月21日，国网湘潭县供电公司在营业厅开展政务公开主题日活动。",
            attachments=photos("供电", 2),
        )
    )
    add(
        Mail(
            "a19-cgzfj-full-name.eml",
            (R, M, ("县城管执法局",), "2023-09"),
            "湘潭县城市管理和综合执法局9月份政务公开主题日活动开展情况",
            "2023-09-22 15:00",
            "cgj_xt@163.com",
            "",
            text="详见附件。",
            attachments=photos("城管", 2),
        )
    )
    add(
        Mail(
            "a20-yjglj-short-alias.eml",
            (R, M, ("县应急管理局",), "2023-09"),
            "县应急局9月政务公开主题日活动",
            "2023-09-19 11:40",
            "xtyjj@163.com",
            "",
            text="县应急局于9月15日开展政务公开主题日活动，现将图片报送。",
            attachments=photos("应急", 2),
        )
    )
    add(
        Mail(
            "a21-jrb-office.eml",
            (R, M, ("县金融办",), "2023-07"),
            "湘潭县金融工作办公室7月政务公开主题日活动情况",
            "2023-07-21 17:10",
            "xtjrb@126.com",
            "",
            text="附件为活动图片。",
            attachments=photos("金融", 1),
        )
    )
    add(
        Mail(
            "a22-hsz-township-name.eml",
            (R, M, ("花石镇",), "2023-10"),
            "10月份政务公开主题日活动开展情况",
            "2023-10-24 15:50",
            "hszdzb@163.com",
            "花石镇党政办",
            text="10月18日，我镇在花石镇集市开展政务公开主题日活动。",
            attachments=photos("hs", 2),
        )
    )
    add(
        Mail(
            "a23-cesz.eml",
            (R, M, ("茶恩寺镇",), "2023-10"),
            "茶恩寺镇10月主题日活动",
            "2023-10-20 09:12",
            "cesz@163.com",
            "",
            text="茶恩寺镇主题日活动图片。",
            attachments=photos("茶恩寺", 3),
        )
    )
    add(
        Mail(
            "a24-yjqz-cn-september.eml",
            (R, M, ("杨嘉桥镇",), "2023-09"),
            "杨嘉桥镇九月主题日活动简讯",
            "2023-09-25 08:40",
            "yjqzzf@163.com",
            "",
            text="九月十五日，杨嘉桥镇在镇便民服务中心开展政务公开主题日活动。",
            attachments=photos("杨嘉桥", 1),
        )
    )
    add(
        Mail(
            "a25-tjsz.eml",
            (R, M, ("谭家山镇",), "2023-08"),
            "谭家山镇8月政务公开主题日活动信息",
            "2023-08-24 16:00",
            "tjsz_dzb@126.com",
            "",
            text="活动信息见附件。",
            attachments=photos("谭家山", 2),
        )
    )
    add(
        Mail(
            "a26-fsx-reply-re.eml",
            (R, M, ("分水乡",), "2023-07"),
            "Re: 分水乡7月份政务公开主题日活动",
            "2023-07-25 17:55",
            "fsxdzb@163.com",
            "",
            text="补发图片两张。",
            in_reply_to="<corpus.prev.fsx@example.net>",
            attachments=photos("分水", 2),
        )
    )
    add(
        Mail(
            "a27-qsqz-split-encoded-word.eml",
            (R, M, ("青山桥镇",), "2023-07"),
            Header("青山桥镇7月政务公开主题日活动图片", "utf-8", "split"),
            "2023-07-19 10:30",
            "qsqz_gov@163.com",
            "",
            text="青山桥镇于7月18日开展活动。",
            attachments=photos("青山桥", 2),
        )
    )
    add(
        Mail(
            "a28-zrzyj-raw-utf8-subject.eml",
            (R, M, ("县自然资源局",), "2023-04"),
            Header("县自然资源局4月政务公开主题日活动报送", "utf-8", "raw"),
            "2023-04-26 09:20",
            "zrzyj.xtx@example.com",
            "",
            text="见附件。",
            cte="8bit",
            attachments=photos("zrzy", 2),
        )
    )
    add(
        Mail(
            "a29-wlgtj-qq-html.eml",
            (R, M, ("县文旅广体局",), "2023-10"),
            "湘潭县文化旅游广电体育局10月份政务公开主题日活动",
            "2023-10-25 11:05",
            "2568812345@qq.com",
            "文旅",
            html="<div style='font-family:微软雅黑'><style>p{color:#333}</style>"
            "<p>10月21日，我局在县文化馆开展政务公开主题日活动。</p><p>&nbsp;</p>"
            "<div><img src='cid:part1'></div></div>",
            attachments=[
                Att("image001.jpg", jpeg(77), "image/jpeg", "rfc2047", "utf-8", "part1"),
                *photos("文旅", 2),
            ],
        )
    )

    # --- B. the unit in other places ------------------------------------------------------------
    add(
        Mail(
            "b01-czj-display-name.eml",
            (R, M, ("县财政局",), "2023-08"),
            "政务公开主题日活动信息",
            "2023-08-18 10:22",
            "czj_bgs@163.com",
            Header("湘潭县财政局办公室", "gb2312"),
            text="8月17日，我局在财政局一楼大厅开展政务公开主题日活动，宣传惠企政策。",
            charset="gb2312",
            attachments=photos("cz", 2),
        )
    )
    add(
        Mail(
            "b02-sjj-signature.eml",
            (R, M, ("县审计局",), "2023-08"),
            "主题日活动材料",
            "2023-08-23 17:30",
            "xtsj1990@126.com",
            "",
            text="您好！\n我局于8月22日在局机关开展政务公开主题日活动，向来访群众宣讲审计法律法规，"
            "发放宣传册100余份。\n\n湘潭县审计局\n2023年8月23日\n",
            attachments=photos("审计", 2),
        )
    )
    add(
        Mail(
            "b03-kgj-attachment-name.eml",
            (R, M, ("县科工局",), "2023-08"),
            "8月份主题日活动",
            "2023-08-25 09:15",
            "1287766554@qq.com",
            "",
            text="材料见附件，请查收！",
            attachments=[
                Att(
                    "县科工局政务公开主题日活动信息.docx",
                    report_docx(["8月24日，县科工局在工业园开展政务公开主题日活动。"]),
                    DOCX,
                ),
                *photos("现场照片", 2),
            ],
        )
    )
    add(
        Mail(
            "b04-wjj-known-address-only.eml",
            (R, M, ("县卫健局",), "2023-06"),
            "主题日活动图片",
            "2023-06-26 08:30",
            "wjj.xtx@example.com",
            "",
            text="见附件",
            attachments=photos("IMG_0", 3),
        )
    )
    add(
        Mail(
            "b05-sfj-forward-subject.eml",
            (R, M, ("县司法局",), "2023-09"),
            "转发：县司法局9月主题日活动情况",
            "2023-09-21 09:00",
            "xtxzfb@163.com",
            "县政府办 李明",
            text="谭主任，转给您。\n\n-------- 转发邮件信息 --------\n发件人：湘潭县司法局 <sfj_xt@163.com>\n"
            "发送日期：2023-09-20 17:32\n收件人：xtxzfb@163.com\n主题：县司法局9月主题日活动情况\n\n"
            "9月18日，县司法局在县法律援助中心开展政务公开主题日活动。\n",
            attachments=photos("司法", 2),
        )
    )
    add(
        Mail(
            "b06-gaj-forward-header-only.eml",
            (R, M, ("县公安局",), "2023-09"),
            "Fw: 活动信息",
            "2023-09-18 10:40",
            "xtxzfb@163.com",
            "",
            text='\n\n---------- Forwarded message ---------\n发件人: "湘潭县公安局" <xtgaj@qq.com>\n'
            "Date: 2023年9月15日周五 16:20\nSubject: 活动信息\nTo: <xtxzfb@163.com>\n\n"
            "9月12日，我局在县政务服务中心开展政务公开主题日活动，民警现场解答户籍、出入境等问题。\n",
            attachments=photos("公安", 2),
        )
    )
    add(
        Mail(
            "b07-czj-reply-with-report.eml",
            (R, M, ("县财政局",), "2023-08"),
            "回复：关于报送政务公开主题日活动情况的通知",
            "2023-08-22 11:02",
            "czj.xtx@example.com",
            "",
            text="谭老师：\n我局8月主题日活动信息及图片见附件。\n" + QUOTED_REMINDER,
            in_reply_to="<notice.202308@126.com>",
            attachments=photos("财政局", 2),
        )
    )
    add(
        Mail(
            "b08-sjj-reply-ack.eml",
            (OT, IG, (), None),
            "回复：关于报送政务公开主题日活动情况的通知",
            "2023-08-21 10:05",
            "sjj.xtx@example.com",
            "",
            text="收到\n" + QUOTED_REMINDER,
            in_reply_to="<notice.202308@126.com>",
        )
    )
    add(
        Mail(
            "b09-kgj-reply-ack-gbk.eml",
            (OT, IG, (), None),
            Header("答复: 关于报送政务公开主题日活动情况的通知", "gb2312"),
            "2023-08-21 10:30",
            "kgj.xtx@example.com",
            "",
            text="好的，谢谢！\n" + QUOTED_REMINDER,
            charset="gb2312",
            in_reply_to="<notice.202308@126.com>",
        )
    )
    add(
        Mail(
            "b10-bsz-html-body-lead.eml",
            (R, M, ("白石镇",), "2023-08"),
            "主题日活动",
            "2023-08-21 16:16",
            "3311224455@qq.com",
            "",
            html="<html><head><style>.x{font-size:14px}</style><title>白石</title></head><body>"
            "<div>湘潭县白石镇于8月18日在白石镇集市开展政务公开主题日活动。</div>"
            "<div>我镇通过悬挂横幅、发放资料等方式宣传政府信息公开条例。</div></body></html>",
            attachments=photos("bs", 2),
        )
    )
    add(
        Mail(
            "b11-sgz-reply-quoted-notice.eml",
            (R, M, ("石鼓镇",), "2023-06"),
            "回覆：石鼓镇6月主题日活动",
            "2023-06-27 09:00",
            "sgz_gov@163.com",
            "",
            text="已补充图片。\n\n在 2023年6月26日 18:02，xtxgov@126.com 写道：\n> 石鼓镇：图片太少，请补充。\n",
            in_reply_to="<ask.sgz@126.com>",
            attachments=photos("石鼓", 3),
        )
    )
    add(
        Mail(
            "b12-nyncj-outlook-signature-dashes.eml",
            (R, M, ("县农业农村局",), "2023-04"),
            "四月份主题日活动情况",
            "2023-04-25 16:40",
            "nyj_xtx@163.com",
            "",
            text="4月20日在农业农村局门前开展政务公开主题日活动。\n-- \n湘潭县农业农村局 综合股\n电话：0731-57223456\n",
            attachments=photos("ny", 2),
        )
    )

    # --- C. abbreviations, stems, close names, passing mentions, joint reports -----------------
    add(
        Mail(
            "c01-scjgj-abbreviation.eml",
            (R, M, ("县市场监管局",), "2023-09"),
            "县市场监督局九月政务公开主题日活动",
            "2023-09-20 10:20",
            "xtscj@163.com",
            "",
            text="附件为活动图片。",
            attachments=photos("scjg", 2),
        )
    )
    add(
        Mail(
            "c02-rsj-abbreviation.eml",
            (R, M, ("县人社局",), "2023-07"),
            "县人力社保局7月主题日活动",
            "2023-07-20 15:20",
            "rlsbj@163.com",
            "",
            text="附件为图片。",
            attachments=photos("rs", 2),
        )
    )
    add(
        Mail(
            "c03-nyncj-abbreviation.eml",
            (R, M, ("县农业农村局",), "2023-04"),
            "县农业局4月政务公开主题日",
            "2023-04-27 11:00",
            "xtnyj@163.com",
            "",
            text="我局4月26日开展了主题日活动，图片见附件。",
            attachments=photos("农业", 2),
        )
    )
    add(
        Mail(
            "c04-klrq-stem.eml",
            (R, M, ("县中石油昆仑燃气公司",), "2023-11"),
            "湘潭昆仑燃气11月主题日活动照片",
            "2023-11-22 14:30",
            "klrq_xt@163.com",
            "",
            text="11月20日在客服中心开展活动。",
            attachments=photos("燃气", 2),
        )
    )
    add(
        Mail(
            "c05-wlgtj-abbreviation.eml",
            (R, M, ("县文旅广体局",), "2023-10"),
            "县文旅局10月主题日活动信息",
            "2023-10-20 09:40",
            "wlj_xt@163.com",
            "",
            text="详见附件。",
            attachments=photos("文旅局", 2),
        )
    )
    add(
        Mail(
            "c06-fgj-old-name.eml",
            (R, M, ("县发改局",), "2023-04"),
            "县发改委4月份主题日活动信息",
            "2023-04-24 17:40",
            "xtfgw@126.com",
            "",
            text="我委于4月21日开展政务公开主题日活动。",
            attachments=photos("发改", 2),
        )
    )
    add(
        Mail(
            "c07-sthjj-branch.eml",
            (R, M, ("市生态环境局县分局",), "2023-04"),
            "市生态环境局湘潭县分局4月政务公开主题日活动",
            "2023-04-21 10:00",
            "sthj_xtx@163.com",
            "",
            text="4月19日，我分局在县城滨江广场开展主题日活动。",
            attachments=photos("环境", 2),
        )
    )
    add(
        Mail(
            "c08-gxs-full-name.eml",
            (R, M, ("县供销社",), "2023-12"),
            "湘潭县供销合作社12月主题日",
            "2023-12-21 16:00",
            "xtgxs@163.com",
            "",
            text="附件是活动照片。",
            attachments=photos("gx", 1),
        )
    )
    add(
        Mail(
            "c09-wsz-close-name.eml",
            (R, M, ("乌石镇",), "2023-09"),
            "乌石镇9月主题日活动",
            "2023-09-22 09:05",
            "wsz_dzb@163.com",
            "",
            text="乌石镇于9月20日在乌石镇政务服务中心开展活动，石潭镇、白石镇有关人员前来观摩。",
            attachments=photos("wsz", 2),
        )
    )
    add(
        Mail(
            "c10-gaj-passing-mentions.eml",
            (R, M, ("县公安局",), "2023-09"),
            "县公安局9月主题日活动信息",
            "2023-09-19 15:12",
            "gaj.xtx@example.com",
            "",
            text="9月15日，我局会同县司法局、县市场监管局在县政务服务中心开展联合宣传，解答群众咨询。",
            attachments=photos("公安局", 2),
        )
    )
    add(
        Mail(
            "c11-joint-townships.eml",
            (R, M, ("云湖桥镇", "中路铺镇"), "2023-04"),
            "云湖桥镇、中路铺镇联合开展4月政务公开主题日活动",
            "2023-04-24 16:30",
            "yhqzzf@163.com",
            "",
            text="4月21日，云湖桥镇、中路铺镇在两镇交界的集市联合开展政务公开主题日活动。",
            attachments=photos("联合", 3),
        )
    )
    add(
        Mail(
            "c12-joint-departments.eml",
            (R, M, ("县住建局", "县自然资源局"), "2023-04"),
            "县自然资源局 县住建局 4月主题日联合活动",
            "2023-04-27 10:10",
            "zjj.xtx@example.com",
            "",
            text="两局联合开展政务公开主题日活动，图片见附件。",
            attachments=photos("zj", 2),
        )
    )
    add(
        Mail(
            "c13-conflict-address-vs-subject.eml",
            (R, V, ("县林业局", "县住建局"), None),
            "县林业局5月主题日活动",
            "2023-05-22 09:30",
            "zjj.xtx@example.com",
            "",
            text="图片见附件。",
            attachments=photos("lyj", 2),
        )
    )
    add(
        Mail(
            "c14-conflict-subject-vs-attachment.eml",
            (R, V, ("县教育局", "县民政局"), None),
            "县教育局7月主题日活动",
            "2023-07-21 11:00",
            "1122334455@qq.com",
            "",
            text="请查收",
            attachments=[
                Att("县民政局主题日活动信息.docx", report_docx(["县民政局主题日活动信息"]), DOCX),
                *photos("jy", 1),
            ],
        )
    )
    add(
        Mail(
            "c15-lyj-not-nyncj.eml",
            (R, M, ("县林业局",), "2023-05"),
            "县林业局5月份政务公开主题日活动",
            "2023-05-19 10:00",
            "xtlyj@163.com",
            "",
            text="5月18日，县林业局联合县农业农村局下属站所开展宣传活动。",
            attachments=photos("林业", 2),
        )
    )
    add(
        Mail(
            "c16-joint-body-only-names.eml",
            (R, V, (), None),
            "主题日活动信息",
            "2023-09-20 09:30",
            "9988776655@qq.com",
            "",
            text="9月16日，县司法局、县公安局在县政务服务中心联合开展政务公开主题日活动。",
            attachments=photos("jt", 2),
        )
    )

    # --- D. periods -------------------------------------------------------------------------------
    add(
        Mail(
            "d01-ptx-late.eml",
            (R, M, ("排头乡",), "2023-05"),
            "排头乡5月主题日活动信息（迟报）",
            "2023-06-03 10:20",
            "ptxzf@126.com",
            "",
            text="因汛期工作，迟报，请谅解。",
            attachments=photos("pt", 2),
        )
    )
    add(
        Mail(
            "d02-czj-moved-event.eml",
            (R, V, ("县财政局",), "2023-09"),
            "县财政局9月政务公开主题日活动",
            "2023-09-20 15:00",
            "czj.xtx@example.com",
            "",
            text="原定8月的活动因迎检推迟至9月18日开展，现报送活动情况。",
            attachments=photos("czj", 2),
        )
    )
    add(
        Mail(
            "d03-mzj-notice-month-vs-activity.eml",
            (R, M, ("县民政局",), "2023-06"),
            "关于4月份通知的6月主题日活动",
            "2023-06-21 10:00",
            "xtmzj@163.com",
            "县民政局",
            text="根据4月份通知要求，我局于6月19日开展主题日活动。",
            attachments=photos("mz", 2),
        )
    )
    add(
        Mail(
            "d04-sjj-body-date.eml",
            (R, M, ("县审计局",), "2023-08"),
            "县审计局政务公开主题日活动信息",
            "2023-08-18 15:00",
            "xtsjj@163.com",
            "",
            text="8月16日，我局在局机关一楼开展政务公开主题日活动。",
            attachments=photos("sj", 1),
        )
    )
    add(
        Mail(
            "d05-jtj-inferred.eml",
            (R, M, ("县交通局",), "2023-10"),
            "县交通局政务公开主题日活动",
            "2023-10-24 16:10",
            "xtjtj@163.com",
            "",
            text="附件为活动图片。",
            attachments=photos("jt", 3),
        )
    )
    add(
        Mail(
            "d06-xfj-out-of-schedule.eml",
            (R, V, ("县信访局",), None),
            "县信访局政务公开主题日活动",
            "2023-05-10 10:00",
            "xtxfj@163.com",
            "",
            text="附件为活动图片。",
            attachments=photos("xf", 2),
        )
    )
    add(
        Mail(
            "d07-sbz-circled-numbers.eml",
            (R, M, ("射埠镇",), "2023-11"),
            "湘潭县射埠镇政务公开主题日活动",
            "2023-11-24 10:00",
            "sbz@163.com",
            "",
            text="活动包括：①悬挂横幅②发放资料③现场答疑，共①②③三个环节。",
            attachments=photos("sb", 2),
        )
    )
    add(
        Mail(
            "d08-cgzfj-period-in-attachment.eml",
            (R, M, ("县城管执法局",), "2023-09"),
            "县城管局主题日活动",
            "2023-09-26 10:00",
            "cgzfj.xtx@example.com",
            "",
            text="见附件。",
            attachments=[Att("2023年9月主题日活动照片.jpg", jpeg(9)), *photos("cg", 1)],
        )
    )
    add(
        Mail(
            "d09-lyj-according-to-notice.eml",
            (R, M, ("县林业局",), "2023-05"),
            "根据3月30日通知要求，现报送我局5月主题日活动",
            "2023-05-25 09:00",
            "lyj.xtx@example.com",
            "",
            text="请查收。",
            attachments=photos("ly", 2),
        )
    )
    add(
        Mail(
            "d10-sgz-cn-month-body.eml",
            (R, M, ("石鼓镇",), "2023-06"),
            "石鼓镇政务公开主题日活动简讯",
            "2023-06-28 10:00",
            "sgz_gov@163.com",
            "",
            text="六月二十日，石鼓镇在镇政府门前坪开展政务公开主题日活动。",
            attachments=photos("sg", 1),
        )
    )
    add(
        Mail(
            "d11-swj-december-cross-year-inferred.eml",
            (R, M, ("县商务局",), "2023-12"),
            "县商务局政务公开主题日活动图片",
            "2024-01-05 10:00",
            "swj.xtx@example.com",
            "",
            text="见附件。",
            attachments=photos("sw", 2),
        )
    )
    add(
        Mail(
            "d12-yhqz-two-months.eml",
            (R, V, ("云湖桥镇",), None),
            "云湖桥镇4月、5月主题日活动",
            "2023-05-20 10:00",
            "yhqz.xtx@example.com",
            "",
            text="附件为两次活动的图片。",
            attachments=photos("yh", 2),
        )
    )

    # --- E. ignored -----------------------------------------------------------------------------
    add(
        Mail(
            "e01-auto-submitted.eml",
            (OT, IG, (), None),
            "自动回复：关于报送政务公开主题日活动情况的通知",
            "2023-08-21 09:13",
            "sjj.xtx@example.com",
            "",
            text="您好，我已收到您的邮件，会尽快处理。",
            headers=[("Auto-Submitted", "auto-replied")],
        )
    )
    add(
        Mail(
            "e02-x-autoreply.eml",
            (OT, IG, (), None),
            "Auto Reply: 关于报送政务公开主题日活动情况的通知",
            "2023-08-21 09:14",
            "xtlyj@163.com",
            "",
            text="这是一封自动回复邮件。",
            headers=[("X-Autoreply", "yes")],
        )
    )
    add(
        Mail(
            "e03-traditional-auto-reply-subject-only.eml",
            (OT, IG, (), None),
            Header("自動回覆：關於報送政務公開主題日活動情況的通知", "big5"),
            "2023-08-21 09:15",
            "xtsj@hotmail.com",
            "",
            text="本人休假中，8月28日返回。",
            charset="big5",
        )
    )
    add(
        Mail(
            "e04-outlook-automatic-reply.eml",
            (OT, IG, (), None),
            "Automatic reply: 政务公开主题日",
            "2023-08-21 09:16",
            "kgj@xtx.gov.cn",
            "",
            text="I am out of the office.",
            headers=[("X-Auto-Response-Suppress", "All")],
        )
    )
    add(
        Mail(
            "e05-bulk-newsletter.eml",
            (OT, IG, (), None),
            "湖南省政务公开简报（第5期）",
            "2023-06-01 08:00",
            "news@hunan.gov.cn",
            "",
            text="本期要目：县林业局开展政务公开主题日活动……",
            headers=[("Precedence", "bulk"), ("List-Unsubscribe", "<mailto:unsub@hunan.gov.cn>")],
        )
    )
    add(
        Mail(
            "e06-bounce-mailer-daemon.eml",
            (OT, IG, (), None),
            "系统退信",
            "2023-08-21 09:20",
            "MAILER-DAEMON@126.com",
            "",
            return_path="",
            top='Content-Type: multipart/report; report-type=delivery-status;\n boundary="bnd"\n\n'
            "--bnd\nContent-Type: text/plain; charset=utf-8\n\n"
            "抱歉，您的邮件被退回。收件人 czj@xtx.gov.cn 不存在。\n"
            "--bnd\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.126.com\n\n"
            "Final-Recipient: rfc822; czj@xtx.gov.cn\nAction: failed\nStatus: 5.1.1\n--bnd--\n",
        )
    )
    add(
        Mail(
            "e07-qq-bounce-gbk.eml",
            (OT, IG, (), None),
            Header("来自QQ.com的退信", "gb2312"),
            "2023-08-21 09:21",
            "postmaster@qq.com",
            "",
            text="很抱歉您发送的邮件被退回，以下是该邮件的相关信息：收件人 县林业局",
            charset="gb2312",
        )
    )
    add(
        Mail(
            "e08-null-return-path.eml",
            (OT, IG, (), None),
            "Undelivered Mail Returned to Sender",
            "2023-08-21 09:22",
            "bounce@mx.example.net",
            "",
            return_path="",
            text="This is the mail system at host mx.example.net.",
        )
    )
    add(
        Mail(
            "e09-own-reminder.eml",
            (OT, IG, (), None),
            "关于报送2023年5月政务公开主题日活动情况的提醒",
            "2023-05-20 09:00",
            OFFICE,
            "湘潭县政务公开办",
            text="县林业局、县消防救援大队、排头乡、河口镇：请于5月25日前报送活动开展情况。",
        )
    )
    add(
        Mail(
            "e10-spam-invoice.eml",
            (OT, IG, (), None),
            "代开各类发票 13800000000",
            "2023-07-02 03:14",
            "sales8899@163.com",
            "刘经理",
            text="正规代开增值税发票，点数优惠，加微信详谈。",
        )
    )
    add(
        Mail(
            "e11-spam-loan-html.eml",
            (OT, IG, (), None),
            Header("低息贷款，无抵押，当天到账", "gb2312"),
            "2023-07-05 02:00",
            "loan@dk-xx.com",
            "",
            html="<p>无抵押信用贷款，低息，<b>当天到账</b>！回复TD退订</p>",
            charset="gb2312",
        )
    )
    add(
        Mail(
            "e12-newsletter-list-headers.eml",
            (OT, IG, (), None),
            "网易邮箱会员专享优惠",
            "2023-06-10 10:00",
            "newsletter@service.netease.com",
            "网易邮箱",
            html="<p>尊敬的用户，会员专享优惠……</p><a href='#'>退订</a>",
            headers=[
                ("List-Unsubscribe", "<https://unsub.163.com/x>"),
                ("List-Id", "<promo.163.com>"),
            ],
        )
    )
    add(
        Mail(
            "e13-x-loop.eml",
            (OT, IG, (), None),
            "县林业局5月政务公开主题日活动信息",
            "2023-05-17 16:05",
            "forward@xtx.gov.cn",
            "",
            text="（系统转发）",
            headers=[("X-Loop", "xtxgov@126.com")],
        )
    )
    add(
        Mail(
            "e14-precedence-auto-reply.eml",
            (OT, IG, (), None),
            "Re: 政务公开主题日",
            "2023-09-01 12:00",
            "gaj.xtx@example.com",
            "",
            text="您的来信已收到。",
            headers=[("Precedence", "auto_reply")],
        )
    )

    # --- F. liaison forms --------------------------------------------------------------------------
    lyj = {
        "单位名称": "湘潭县林业局",
        "姓名": "周敏",
        "性别": "女",
        "职务": "办公室主任",
        "办公电话": "0731-57220011",
        "手机": "13907321234",
        "传真": "0731-57220012",
        "QQ号": "123456789",
        "微信号": "zhoumin_xt",
        "电子邮箱": "lyj.xtx@example.com",
    }
    add(
        Mail(
            "f01-liaison-xlsx.eml",
            (L, M, ("县林业局",), None),
            "县林业局联络员信息表",
            "2023-04-10 10:00",
            "xtlyj@163.com",
            "",
            text="附件为我局联络员信息表。",
            attachments=[Att("联络员信息表（县林业局）.xlsx", liaison_xlsx(lyj), XLSX)],
        )
    )
    slj = {
        "单位名称": "湘潭县水利局",
        "姓名": "陈刚",
        "性别": "男",
        "职务": "副主任",
        "办公电话": "0731-57221122",
        "手机": "13875123456",
        "QQ号": "87654321",
        "电子邮箱": "xtslj@163.com",
    }
    add(
        Mail(
            "f02-liaison-docx.eml",
            (L, M, ("县水利局",), None),
            "报送政务公开主题日联络员",
            "2023-04-11 09:00",
            "5566778899@qq.com",
            "",
            text="请查收附件。",
            attachments=[
                Att("附件5：联络员信息表.docx", liaison_docx(slj), DOCX, "rfc2047", "gb2312")
            ],
        )
    )
    add(
        Mail(
            "f03-liaison-body-text.eml",
            (L, M, ("县交通局",), None),
            "联络员信息",
            "2023-04-12 15:00",
            "xtjt@163.com",
            "",
            text="联络员信息如下：\n单位名称：湘潭县交通运输局\n姓名：王芳\n性别：女\n职务：办公室副主任\n"
            "办公电话：0731-57225566\n手机：13975212345\n电子邮箱：xtjt@163.com\n",
        )
    )
    yj = {
        "单位名称": "县应急管理局",
        "姓名": "李强",
        "性别": "男",
        "职务": "科员",
        "手机": "13807321111",
    }
    add(
        Mail(
            "f04-liaison-form-only-in-attachment.eml",
            (L, M, ("县应急管理局",), None),
            "附件5",
            "2023-04-12 16:00",
            "yjglj.xtx@example.com",
            "",
            text="见附件",
            attachments=[Att("附件5.xlsx", liaison_xlsx(yj), XLSX)],
        )
    )
    add(
        Mail(
            "f05-liaison-no-unit.eml",
            (L, V, (), None),
            "联络员信息表",
            "2023-04-13 10:00",
            "7788990011@qq.com",
            "",
            text="附件。",
            attachments=[
                Att(
                    "联络员信息表.xlsx",
                    liaison_xlsx({"姓名": "赵六", "手机": "13800001111", "职务": "科员"}),
                    XLSX,
                )
            ],
        )
    )
    add(
        Mail(
            "f06-liaison-big5.eml",
            (L, M, ("县民政局",), None),
            Header("縣民政局聯絡員信息表", "big5"),
            "2023-04-13 11:00",
            "xtmzj@163.com",
            "",
            text="聯絡員：孫麗，職務：辦公室主任，手機：13974321234。",
            charset="big5",
        )
    )
    add(
        Mail(
            "f07-liaison-raw-gbk-filename.eml",
            (L, M, ("县司法局",), None),
            "县司法局报送联络员",
            "2023-04-14 09:30",
            "sfj.xtx@example.com",
            "",
            text="附件为联络员信息表。",
            attachments=[
                Att(
                    "司法局联络员信息表.docx",
                    liaison_docx(
                        {
                            "单位名称": "湘潭县司法局",
                            "姓名": "黄伟",
                            "性别": "男",
                            "职务": "办公室主任",
                            "手机": "13607321234",
                        }
                    ),
                    DOCX,
                    "raw",
                    "gbk",
                )
            ],
        )
    )

    # --- G. cloud links, questions, nothing to go on, odd clients -------------------------------
    add(
        Mail(
            "g01-netease-cloud-link.eml",
            (R, M, ("县教育局",), "2023-07"),
            "县教育局7月主题日活动视频",
            "2023-07-24 17:00",
            "jyj.xtx@example.com",
            "",
            text="活动视频较大，以超大附件发送。\n\n从网易163邮箱发来的超大附件\n主题日活动视频.mp4 (80.96M, 2023年08月08日 17:33 到期)\n"
            f"进入下载页面：{NETEASE_LINK}\n",
            cte="quoted-printable",
        )
    )
    add(
        Mail(
            "g02-qq-cloud-link-html.eml",
            (R, M, ("县消防救援大队",), "2023-05"),
            "消防救援大队5月主题日活动照片（超大附件）",
            "2023-05-24 10:00",
            "xfjydd.xtx@example.com",
            "",
            html="<div>照片较多，见超大附件。</div><div>从QQ邮箱发来的超大附件</div>"
            "<a href='https://wx.mail.qq.com/ftn/download?func=3&k=abcdef0123456789&key=abc'>主题日照片.zip</a>"
            "<span>文件大小：120.5M</span><span>到期时间：2023年6月7日</span>",
        )
    )
    add(
        Mail(
            "g03-photos-no-unit.eml",
            (R, V, (), None),
            "Fw: 图片",
            "2023-06-15 10:00",
            "6655443322@qq.com",
            "",
            text="",
            attachments=photos("IMG_", 3),
        )
    )
    add(
        Mail(
            "g04-question-unknown.eml",
            (OT, V, (), None),
            "请问主题日活动材料报送格式？",
            "2023-04-20 10:00",
            "1239876@qq.com",
            "",
            text="老师您好，请问主题日活动材料需要报送哪些内容？是否需要盖章？",
        )
    )
    add(
        Mail(
            "g05-question-known-unit.eml",
            (OT, V, ("县信访局",), None),
            "县信访局咨询：活动可否推迟？",
            "2023-10-09 10:00",
            "xfj.xtx@example.com",
            "",
            text="您好，我局原定10月开展的主题日活动，因工作安排，可否推迟至11月？",
        )
    )
    add(
        Mail(
            "g06-unit-no-report-content.eml",
            (OT, V, ("县审计局",), None),
            "县审计局联系人变更",
            "2023-06-10 10:00",
            "sjj.xtx@example.com",
            "",
            text="我单位经办人已调整为刘洋，电话13900000000。",
        )
    )
    add(
        Mail(
            "g07-photos-known-address-no-text.eml",
            (R, M, ("射埠镇",), "2023-11"),
            "",
            "2023-11-21 20:10",
            "sbz.xtx@example.com",
            "",
            attachments=photos("mmexport16", 4),
        )
    )
    add(
        Mail(
            "g08-traditional-forward.eml",
            (R, M, ("县林业局",), "2023-05"),
            Header("轉發：湘潭縣林業局5月政務公開主題日活動", "big5"),
            "2023-05-19 09:00",
            "xt_ly@yahoo.com.tw",
            "",
            text="請查收。",
            charset="big5",
            attachments=photos("ly", 2, "rfc2047", "big5"),
        )
    )
    add(
        Mail(
            "g09-plain-spam-with-unit.eml",
            (OT, V, ("县林业局",), None),
            "县林业局：代开发票",
            "2023-07-01 10:00",
            "kaipiao@163.com",
            "",
            text="代开发票，联系电话 13900001111。",
        )
    )
    add(
        Mail(
            "g10-hsz-name-in-subject-by-attachment-period.eml",
            (R, M, ("花石镇",), "2023-10"),
            "花石镇主题日活动信息",
            "2023-10-30 10:00",
            "hsz.xtx@example.com",
            "",
            text="信息见附件",
            attachments=[
                Att(
                    "花石镇10月主题日活动信息.docx",
                    report_docx(["花石镇10月主题日活动信息"]),
                    DOCX,
                    "rfc2231",
                    "gb2312",
                )
            ],
        )
    )
    add(
        Mail(
            "g11-zlpz-qp-utf8.eml",
            (R, M, ("中路铺镇",), "2023-04"),
            Header("中路铺镇4月份政务公开主题日活动开展情况", "utf-8", "Q"),
            "2023-04-26 11:00",
            "zlpz2023@163.com",
            "",
            text="中路铺镇于4月25日在镇政府便民服务大厅开展政务公开主题日活动。\n",
            cte="quoted-printable",
            attachments=photos("zlp", 2),
        )
    )
    add(
        Mail(
            "g12-yhqz-attachment-only-unit-gbk-name.eml",
            (R, M, ("云湖桥镇",), "2023-04"),
            "4月主题日活动",
            "2023-04-28 10:00",
            "8877665544@qq.com",
            "",
            text="见附件",
            attachments=photos("云湖桥镇主题日现场", 2, "rfc2047", "gb2312"),
        )
    )
    add(
        Mail(
            "g13-ybj-signature-phone.eml",
            (R, M, ("县医保局",), "2023-06"),
            "6月份政务公开主题日活动图片",
            "2023-06-19 11:00",
            "yibao2020@163.com",
            "",
            text="您好：\n附件为6月份主题日活动图片，请查收。\n\n县医疗保障局 办公室\n联系电话：0731-57861234\n",
            attachments=photos("医保", 2),
        )
    )
    add(
        Mail(
            "g14-zjj-received-before-schedule-explicit.eml",
            (R, M, ("县住建局",), "2023-04"),
            "县住建局4月主题日活动开展情况",
            "2023-04-19 10:00",
            "zjj.xtx@example.com",
            "",
            text="4月18日，我局在县政务服务中心开展活动。",
            attachments=photos("住建", 2),
        )
    )
    add(
        Mail(
            "g15-yjqz-late-two-months-inferred.eml",
            (R, M, ("杨嘉桥镇",), "2023-09"),
            "杨嘉桥镇政务公开主题日活动图片",
            "2023-10-12 10:00",
            "yjqz.xtx@example.com",
            "",
            text="补报",
            attachments=photos("yjq", 2),
        )
    )

    # --- H. what a report is not ----------------------------------------------------------------
    add(
        Mail(
            "h01-body-lead-names-another-unit.eml",
            (R, V, (), None),
            "主题日活动",
            "2023-05-20 10:00",
            "4455667788@qq.com",
            "",
            text="在县林业局的指导下，我镇于5月18日在集市开展政务公开主题日活动。",
            attachments=photos("h1", 2),
        )
    )
    add(
        Mail(
            "h02-unit-forwards-the-notice.eml",
            (OT, V, ("县林业局",), None),
            "转发：关于组织开展“政务公开主题日”活动的通知",
            "2023-04-06 09:00",
            "lyj.xtx@example.com",
            "",
            text='请办公室按通知要求开展活动。\n\n-----原始邮件-----\n发件人: "湘潭县政务公开办" <xtxgov@126.com>\n'
            "发送时间: 2023年4月4日 11:45\n主题: 关于组织开展“政务公开主题日”活动的通知\n\n"
            "各乡镇、县直相关单位：请县林业局、县消防救援大队于5月开展活动，活动开展当月25日前报送活动开展情况。\n",
        )
    )
    add(
        Mail(
            "h03-baosong-after-month.eml",
            (R, M, ("县林业局",), "2023-05"),
            "县林业局5月活动报送",
            "2023-05-24 10:00",
            "xtlyj@163.com",
            "",
            text="请查收。",
            attachments=photos("h3", 2),
        )
    )
    add(
        Mail(
            "h04-write-up-in-body-only.eml",
            (R, M, ("县教育局",), "2023-07"),
            "县教育局7月主题日活动信息",
            "2023-07-22 10:00",
            "xtjyj@126.com",
            "",
            text="7月20日，县教育局在县政务服务中心开展政务公开主题日活动，现场解答入学政策咨询60余人次，"
            "发放资料500余份。",
        )
    )
    add(
        Mail(
            "h05-forgot-the-attachment.eml",
            (R, V, ("县水利局",), None),
            "县水利局11月主题日活动图片",
            "2023-11-20 10:00",
            "slj.xtx@example.com",
            "",
            text="请查收。",
        )
    )
    add(
        Mail(
            "h06-city-name-before-township.eml",
            (R, M, ("射埠镇",), "2023-11"),
            "射埠镇人民政府关于报送11月政务公开主题日活动开展情况的报告",
            "2023-11-23 10:00",
            "sbzrmzf@163.com",
            "",
            text="县政务公开办：\n    11月21日，我镇在射埠镇便民服务中心开展政务公开主题日活动。\n\n射埠镇人民政府\n2023年11月23日",
            attachments=photos("h6", 2),
        )
    )

    # --- I. not this county's unit, not a theme-day report, not a person --------------------------
    add(
        Mail(
            "i01-city-bureau-gbk.eml",
            (R, V, (), None),
            Header("湘潭市水利局11月份政务公开主题日活动开展情况", "gb2312"),
            "2023-11-16 09:40",
            "2233445566@qq.com",
            Header("湘潭市水利局办公室", "gb2312"),
            text="11月15日，我局在市民之家门前开展政务公开主题日活动，解读防汛抗旱政策。\n\n"
            "湘潭市水利局\n2023年11月16日",
            charset="gb2312",
            attachments=photos("市水利", 2),
        )
    )
    add(
        Mail(
            "i02-district-bureau-bare-display-name.eml",
            (R, V, ("县卫健局",), None),
            "雨湖区卫健局6月主题日活动图片",
            "2023-06-21 15:05",
            "yhwjj2023@163.com",
            "卫健局",
            text="图片见附件。",
            attachments=photos("yh", 3),
        )
    )
    add(
        Mail(
            "i03-bare-city-prefix-in-file-name.eml",
            (R, V, (), None),
            "主题日活动照片",
            "2023-04-20 10:10",
            "6677889900@qq.com",
            "",
            text="见附件",
            attachments=photos("市住建局主题日活动", 2, "raw", "gb2312"),
        )
    )
    add(
        Mail(
            "i04-other-county-bureau.eml",
            (R, V, (), None),
            "衡山县司法局九月份政务公开主题日活动",
            "2023-09-22 16:30",
            "hssfj@126.com",
            "衡山县司法局",
            text="9月20日，我局开展了政务公开主题日活动，现将图片报送。",
            attachments=photos("hs", 2),
        )
    )
    add(
        Mail(
            "i05-city-bureau-county-branch-big5.eml",
            (R, M, ("市生态环境局县分局",), "2023-04"),
            Header("湘潭市生態環境局湘潭縣分局政務公開主題日活動（4月）", "big5"),
            "2023-04-24 11:20",
            "xtxhbj@163.com",
            "",
            text="4月21日，我分局在縣城廣場開展政務公開主題日活動。",
            charset="big5",
            attachments=photos("hb", 2),
        )
    )
    add(
        Mail(
            "i06-county-and-city-bureaus-joint.eml",
            (R, M, ("县林业局",), "2023-05"),
            "县林业局与市林业局联合开展5月主题日活动",
            "2023-05-19 17:00",
            "xtlyj@163.com",
            "",
            text="5月18日，县林业局与市林业局在易俗河镇联合开展政务公开主题日活动。",
            attachments=photos("lh", 2),
        )
    )
    add(
        Mail(
            "i07-annual-report-in-january.eml",
            (OT, V, ("县发改局",), None),
            "县发改局2023年政务信息公开工作年度报告",
            "2024-01-16 10:00",
            "fgj.xtx@example.com",
            "",
            text="县政务公开办：附件为我局年度报告，请审阅。",
            attachments=[
                Att(
                    "县发改局2023年度报告.docx",
                    report_docx(["湘潭县发展和改革局2023年政务信息公开工作年度报告"]),
                    DOCX,
                )
            ],
        )
    )
    add(
        Mail(
            "i08-work-plan-no-month.eml",
            (OT, V, ("县教育局",), None),
            "县教育局政务公开工作要点",
            "2023-07-05 09:00",
            "xtjyj@126.com",
            "",
            text="请查收。",
            attachments=[Att("工作要点.docx", report_docx(["县教育局政务公开工作要点"]), DOCX)],
        )
    )
    add(
        Mail(
            "i09-ack-to-liaison-request.eml",
            (OT, IG, (), None),
            "回复：关于报送联络员信息表的通知",
            "2023-04-07 08:45",
            "xtybj@163.com",
            "县医保局",
            text="收到，马上填报。\n\n发件人：xtxgov@126.com\n主题：关于报送联络员信息表的通知\n"
            "请参加集中活动的单位于4月12日前报送联络员信息表（附件5）。",
            in_reply_to="<notice.0404@126.com>",
        )
    )
    add(
        Mail(
            "i10-netease-login-notice.eml",
            (OT, IG, (), None),
            "网易邮箱安全提醒：检测到新设备登录",
            "2023-06-02 22:10",
            "safe@service.netease.com",
            "网易邮箱",
            html="<p>您的邮箱于2023-06-02 22:09在新设备上登录。如非本人操作，请及时修改密码。</p>",
        )
    )
    add(
        Mail(
            "i11-qq-transfer-station-expiry.eml",
            (OT, IG, (), None),
            "文件中转站：您有2个文件将在3天后过期",
            "2023-08-28 07:30",
            "10000@qq.com",
            "QQ邮箱团队",
            html="<p>您中转站中的文件“主题日活动视频.mp4”将于3天后过期，请及时续期。</p>",
        )
    )
    add(
        Mail(
            "i12-account-phishing.eml",
            (OT, IG, (), None),
            "系统管理员：您的邮箱帐号存在异常，须在24小时内重新验证",
            "2023-10-11 03:15",
            "admin@mail-check.top",
            "邮件系统管理员",
            text="您的邮箱帐号存在异常登录，请点击以下链接重新验证，否则将被停用：http://mail-check.top/v",
        )
    )
    add(
        Mail(
            "i13-township-name-one-character-off.eml",
            (R, V, (), None),
            "茶思寺镇10月政务公开主题日活动",
            "2023-10-25 14:00",
            "1122334455@qq.com",
            "",
            text="见附件。",
            attachments=photos("cs", 2),
        )
    )
    return c


def toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> int:
    OUT.mkdir(exist_ok=True)
    mails = cases()
    names = [m.name for m in mails]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate corpus file names")
    for old in OUT.glob("*.eml"):
        if old.name not in names:
            old.unlink()
    lines = [
        "# Expected answers for the matcher corpus, written by make_corpus.py (do not edit by hand).",
        "# file -> kind (report|liaison|other), decision (matched|review|ignored), units, period.",
        "# The own address of the office is xtxgov@126.com; received_at is the mail's Date.",
        "",
    ]
    for serial, mail in enumerate(mails, 1):
        (OUT / mail.name).write_bytes(render(mail, serial))
        kind, decision, units, period = mail.expect
        lines.append(f"[{toml_string(mail.name)}]")
        lines.append(f"kind = {toml_string(kind)}")
        lines.append(f"decision = {toml_string(decision)}")
        lines.append("units = [" + ", ".join(toml_string(u) for u in units) + "]")
        lines.append(f"period = {toml_string(period or '')}")
        lines.append("")
    (HERE / "expected.toml").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {len(mails)} mails to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the .eml fixtures under tests/mails/parsing/ byte for byte.

Each fixture is a small mail shaped like what units' clients really send (Foxmail, Outlook,
NetEase and QQ web mail, phones, bounces). They are built here, not typed, because most of
them hold raw 8-bit GBK, Big5 or deliberately broken bytes that an editor would "fix".

Run ``python tests/mails/make_parsing_fixtures.py`` to rewrite them; tests/test_parsing.py
checks that the committed files are exactly what this script writes.
"""

from __future__ import annotations

import base64
import quopri
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "parsing"

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # tiny JPEG-ish blob
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
DOCX = b"PK\x03\x04" + bytes(range(256)) * 4


def b_word(text: str, charset: str, encoding: str | None = None) -> str:
    data = text.encode(encoding or charset)
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def crlf(*lines: bytes | str) -> bytes:
    out = [line.encode("utf-8") if isinstance(line, str) else line for line in lines]
    return b"\r\n".join(out) + b"\r\n"


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")


def foxmail_gbk_as_gb2312() -> bytes:
    """Foxmail on Windows: everything labelled gb2312, names that only GBK has."""
    return crlf(
        "Received: from foxmail (unknown [113.240.1.2]) by mx.126.com",
        f"From: {b_word('王喆', 'gb2312', 'gbk')} <WangZhe@163.com>",
        "To: xtxgov@126.com",
        f"Subject: {b_word('县林业局5月政务公开主题日活动报送（朱镕基、李堃）', 'gb2312', 'gbk')}",
        "Date: Mon, 22 May 2023 09:41:07 +0800",
        "Message-ID: <202305220941071234567@163.com>",
        "X-Mailer: Foxmail 7.2.25.228[cn]",
        "Mime-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="----=_001_NextPart572182624333_=----"',
        "",
        "This is a multi-part message in MIME format.",
        "",
        "------=_001_NextPart572182624333_=----",
        'Content-Type: text/plain; charset="gb2312"',
        "Content-Transfer-Encoding: base64",
        "",
        b64("各位领导：\r\n附件是县林业局5月活动照片，联系人王喆、李堃。\r\n".encode("gbk")),
        "",
        "------=_001_NextPart572182624333_=----",
        "Content-Type: image/jpeg;",
        f'\tname="{b_word("活动照片（镕）.jpg", "gb2312", "gbk")}"',
        "Content-Disposition: attachment;",
        f'\tfilename="{b_word("活动照片（镕）.jpg", "gb2312", "gbk")}"',
        "Content-Transfer-Encoding: base64",
        "",
        b64(JPEG),
        "",
        "------=_001_NextPart572182624333_=------",
    )


def raw_gbk_headers() -> bytes:
    """An old office system: raw GBK bytes in the headers, no charset on the body."""
    return crlf(
        b"From: " + "湘潭县应急管理局".encode("gbk") + b" <yjj@xiangtan.gov.cn>",
        b"To: xtxgov@126.com",
        b"Subject: " + "回复：县应急管理局五月份活动情况".encode("gbk"),
        b"Date: Tue, 23 May 2023 16:02:11 +0800",
        b"Message-ID: <yjj-0523-1@xiangtan.gov.cn>",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="gov-boundary"',
        b"",
        b"--gov-boundary",
        b"Content-Type: text/plain",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "5月25日前报送活动情况，附照片两张。县应急管理局办公室 许堃".encode("gbk"),
        b"",
        b"--gov-boundary",
        b'Content-Type: application/octet-stream; name="' + "活动情况.docx".encode("gbk") + b'"',
        b'Content-Disposition: attachment; filename="' + "活动情况.docx".encode("gbk") + b'"',
        b"Content-Transfer-Encoding: base64",
        b"",
        b64(DOCX),
        b"--gov-boundary--",
    )


def raw_utf8_headers() -> bytes:
    """A phone mail app: raw UTF-8 in the headers and the file name."""
    return crlf(
        b"From: " + "花石镇党政办".encode() + b" <huashi_zhen@qq.com>",
        b"To: xtxgov@126.com",
        b"Subject: " + "花石镇６月政务公开主题日活动图片".encode(),
        b"Date: Sat, 24 Jun 2023 20:15:00 +0800",
        b"Message-ID: <iphone-0624@qq.com>",
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/mixed; boundary=Apple-Mail-1",
        b"",
        b"--Apple-Mail-1",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "花石镇6月活动图片见附件。".encode(),
        b"",
        b"--Apple-Mail-1",
        b'Content-Type: image/png; name="' + "活动现场.png".encode() + b'"',
        b"Content-Disposition: inline; filename=" + "活动现场.png".encode(),
        b"Content-Transfer-Encoding: base64",
        b"",
        b64(PNG),
        b"--Apple-Mail-1--",
    )


def split_encoded_words() -> bytes:
    """A mailer that folds encoded-words by byte count, cutting characters in half."""
    subject = "县人力资源和社会保障局2023年7月活动报送".encode()
    cut = 5  # inside the second character (3 bytes each)
    first = base64.b64encode(subject[:cut]).decode()
    second = base64.b64encode(subject[cut:]).decode()
    name = "县人社局".encode("gbk")
    q1 = "".join(f"={b:02X}" for b in name[:3])
    q2 = "".join(f"={b:02X}" for b in name[3:])
    return crlf(
        f"From: =?GB2312?Q?{q1}?=",
        f" =?GB2312?Q?{q2}?= <rsj@xiangtan.gov.cn>",
        "To: xtxgov@126.com",
        f"Subject: =?UTF-8?B?{first}?=",
        f"\t=?UTF-8?B?{second}?=",
        "Date: Thu, 20 Jul 2023 10:00:00 +0800",
        "Message-ID: <split-words@xiangtan.gov.cn>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: base64",
        "",
        b64("七月活动已开展。".encode()),
    )


def big5_outlook() -> bytes:
    """Outlook in a traditional-Chinese locale: Big5 (with HKSCS names), raw Big5 file name."""
    return crlf(
        f"From: {b_word('許喆', 'big5', 'big5hkscs')} <xuzhe@sina.com>",
        "To: xtxgov@126.com",
        f"Subject: {b_word('縣文化旅遊廣電體育局八月份活動報告', 'big5')}",
        "Date: Wed, 23 Aug 2023 11:20:00 +0800",
        "Message-ID: <big5-0823@sina.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="----=_NextPart_000_0001"',
        "",
        "------=_NextPart_000_0001",
        'Content-Type: text/plain; charset="big5"',
        "Content-Transfer-Encoding: 8bit",
        "",
        "附件為八月份活動照片，聯絡人許喆。".encode("big5hkscs"),
        "",
        "------=_NextPart_000_0001",
        "Content-Type: image/jpeg",
        b'Content-Disposition: attachment; filename="' + "許功蓋.jpg".encode("big5") + b'"',
        "Content-Transfer-Encoding: base64",
        "",
        b64(JPEG),
        "------=_NextPart_000_0001--",
    )


def rfc2231_continued_mislabelled() -> bytes:
    """RFC 2231 continuations, cut inside a character, with GBK bytes labelled utf-8."""
    name = "湘潭县政务公开主题日活动总结（终稿）.docx".encode("gbk")
    pct = "".join(f"%{b:02X}" for b in name)
    a, b, c = pct[:15], pct[15:39], pct[39:]  # cuts fall inside two-byte characters
    utf8_name = "乌石镇9月活动.pdf".encode()
    upct = "".join(f"%{b:02X}" for b in utf8_name)
    return crlf(
        "From: wushi@163.com",
        "To: xtxgov@126.com",
        "Subject: =?utf-8?B?" + base64.b64encode("九月份活动总结".encode()).decode() + "?=",
        "Date: Mon, 25 Sep 2023 08:30:00 +0800",
        "Message-ID: <rfc2231@163.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=b2231",
        "",
        "--b2231",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "see attachment",
        "--b2231",
        "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Content-Disposition: attachment;",
        f" filename*0*=utf-8''{a};",
        f" filename*1*={b};",
        f" filename*2*={c}",
        "Content-Transfer-Encoding: base64",
        "",
        b64(DOCX),
        "--b2231",
        f"Content-Type: application/pdf; name*=UTF-8''{upct}",
        "Content-Disposition: attachment",
        "Content-Transfer-Encoding: base64",
        "",
        b64(b"%PDF-1.4 fake"),
        "--b2231--",
    )


def forwarded_rfc822() -> bytes:
    """A clerk forwards a unit's report as an attachment (Foxmail 'forward as attachment')."""
    inner = crlf(
        b"From: " + "易俗河镇".encode("gbk") + b" <yisuhe@126.com>",
        b"To: boss@xiangtan.gov.cn",
        b"Subject: " + "易俗河镇10月活动照片".encode("gbk"),
        b"Date: Tue, 24 Oct 2023 15:00:00 +0800",
        b"Message-ID: <inner-1024@126.com>",
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/mixed; boundary=inner",
        b"",
        b"--inner",
        b"Content-Type: text/plain; charset=gbk",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "十月活动照片两张。".encode("gbk"),
        b"--inner",
        b"Content-Type: image/jpeg",
        b'Content-Disposition: attachment; filename="' + "现场1.jpg".encode("gbk") + b'"',
        b"Content-Transfer-Encoding: base64",
        b"",
        b64(JPEG),
        b"--inner",
        b"Content-Type: image/jpeg",
        b'Content-Disposition: attachment; filename="' + "现场2.jpg".encode("gbk") + b'"',
        b"Content-Transfer-Encoding: base64",
        b"",
        b64(JPEG[::-1]),
        b"--inner--",
    )
    return crlf(
        "From: clerk@xiangtan.gov.cn",
        "To: xtxgov@126.com",
        f"Subject: {b_word('转发：易俗河镇10月活动照片', 'gbk')}",
        "Date: Wed, 25 Oct 2023 09:00:00 +0800",
        "Message-ID: <fwd-1025@xiangtan.gov.cn>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=outer",
        "",
        "--outer",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "请查收转发的报送邮件。",
        "--outer",
        "Content-Type: message/rfc822",
        'Content-Disposition: attachment; filename="forwarded.eml"',
        "",
        inner,
        "--outer--",
    )


def bounce_report() -> bytes:
    """163's 系统退信 for a reminder that could not be delivered."""
    original = crlf(
        "From: xtxgov@126.com",
        "To: nobody@xiangtan.gov.cn",
        f"Subject: {b_word('提醒：请于25日前报送活动情况', 'utf-8')}",
        "Message-ID: <reminder-1@126.com>",
        "",
        "reminder body",
    )
    return crlf(
        "Return-Path: <>",
        "From: MAILER-DAEMON@163.com",
        "To: xtxgov@126.com",
        f"Subject: {b_word('系统退信', 'gb2312', 'gbk')}",
        "Date: Thu, 26 Oct 2023 10:00:00 +0800",
        "Message-ID: <bounce-1@163.com>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type="delivery-status"; boundary="rpt"',
        "",
        "--rpt",
        "Content-Type: text/plain; charset=gb2312",
        "Content-Transfer-Encoding: base64",
        "",
        b64("很抱歉您的邮件没有发送成功。".encode("gbk")),
        "--rpt",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; m15.mail.163.com",
        "",
        "Final-Recipient: rfc822; nobody@xiangtan.gov.cn",
        "Action: failed",
        "Status: 5.1.1",
        "",
        "--rpt",
        "Content-Type: message/rfc822",
        "",
        original,
        "--rpt--",
    )


def missing_headers() -> bytes:
    """A hand-rolled script's mail: no From, no Date, no Message-ID."""
    return crlf(
        "To: xtxgov@126.com",
        "Subject: test",
        "",
        "body only",
    )


def missing_boundary() -> bytes:
    """A multipart that forgot its boundary parameter."""
    return crlf(
        "From: Shebu <shebu@126.com>",
        "Subject: =?gbk?B?" + base64.b64encode("射埠镇11月".encode("gbk")).decode() + "?=",
        "Date: Fri, 24 Nov 2023 17:00:00 +0800",
        "Message-ID: <noboundary@126.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed",
        "",
        "--=_mixed 0012AB",
        "Content-Type: text/plain; charset=gbk",
        "",
        "射埠镇十一月活动图片".encode("gbk"),
        "--=_mixed 0012AB",
        'Content-Type: image/jpeg; name="a.jpg"',
        "Content-Transfer-Encoding: base64",
        "",
        b64(JPEG),
        "--=_mixed 0012AB--",
    )


def bad_base64_truncated() -> bytes:
    """Bad base64 in one part, and the mail cut off in the middle of the last part."""
    return (
        crlf(
            "From: <qingshanqiao@163.com>",
            "Subject: 12",
            "Date: Mon, 18 Dec 2023 12:00:00 +0800",
            "Message-ID: <truncated@163.com>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=cut",
            "",
            "--cut",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            base64.b64encode("青山桥镇十二月活动".encode()).decode()[:-3] + "!!*",
            "--cut",
            'Content-Type: image/jpeg; name="photo.jpg"',
            "Content-Transfer-Encoding: base64",
            "",
        )
        + b64(JPEG * 20)[:57]
    )


def netease_huge_attachment_qp() -> bytes:
    """163 web mail's 超大附件 block, quoted-printable, so the URL is cut by soft breaks."""
    url = (
        "https://mail.163.com/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT"
        "&file=Sy2W9lTU-w7vguqZrlWFpokrrFG4wg5EhEj3dMzeTYbDfSr3lygA3p9yWJTf8RpsEiHvF7oIAGV5j9A5bObShQ"
        "&title=%E5%8E%BF%E6%9E%97%E4%B8%9A%E5%B1%80%E6%B4%BB%E5%8A%A8%E8%A7%86%E9%A2%91.mp4"
    )
    html_url = url.replace("&", "&amp;")
    text = (
        "县林业局8月活动视频较大，用超大附件发送。\n\n"
        "从网易163邮箱发来的超大附件\n\n"
        "县林业局活动视频.mp4 (80.96M, 2024年08月22日 17:33 到期)\n"
        f"下载: {url}\n"
    )
    html = (
        "<div>县林业局8月活动视频较大，用超大附件发送。</div>"
        '<div style="background:#dee8f2;padding:4px;clear:both">'
        "<div><b>从网易163邮箱发来的超大附件</b></div>"
        '<div style="clear:both;height:36px;padding:6px 4px">'
        f'<div style="width:36px;float:left"><a href="{html_url}"><img src="cid:ico"></a></div>'
        f'<div><a href="{html_url}" download="{html_url}" filename="县林业局活动视频.mp4" '
        'target="_blank" style="color:#000">县林业局活动视频.mp4</a>'
        '<span style="color:#bbb"> (80.96M, 2024年08月22日 17:33 到期)</span></div>'
        "</div></div>"
    )
    return crlf(
        "From: =?UTF-8?B?" + base64.b64encode("县林业局".encode()).decode() + "?= <lyj@163.com>",
        "To: xtxgov@126.com",
        "Subject: =?UTF-8?B?" + base64.b64encode("县林业局8月活动视频".encode()).decode() + "?=",
        "Date: Thu, 24 Aug 2023 17:33:00 +0800 (CST)",
        "Message-ID: <huge-0824@163.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="----=_Part_1"',
        "",
        "------=_Part_1",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        quopri.encodestring(text.encode()).replace(b"\n", b"\r\n"),
        "------=_Part_1",
        "Content-Type: text/html; charset=UTF-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        quopri.encodestring(html.encode()).replace(b"\n", b"\r\n"),
        "------=_Part_1--",
    )


def qq_huge_attachment() -> bytes:
    """QQ mail's 超大附件: text with the link after the details, HTML with a title tooltip."""
    url = "https://wx.mail.qq.com/ftn/download?func=3&k=7d363834fce09c93f6&key=7d363834fce09c93f6&code=7684decd"
    text = (
        "从QQ邮箱发来的超大附件\n\n"
        "中路铺镇9月活动照片.zip (1.2G, 2023年10月12日 21:59 到期)进入下载页面："
        f"{url}\n"
    )
    html = (
        "<div>从QQ邮箱发来的超大附件</div>"
        '<div class="bigatt_bt" title="中路铺镇9月活动照片.zip&#10;文件大小：1.2G&#10;'
        '到期时间：2023年10月12日 21:59">'
        f'<a href="{url.replace("&", "&amp;")}" target="_blank">下载</a></div>'
        '<a href="https://mail.qq.com/cgi-bin/frame_html">QQ邮箱</a>'
    )
    return crlf(
        "From: =?gb18030?B?" + base64.b64encode("中路铺镇".encode("gb18030")).decode() + "?=",
        " <123456789@qq.com>",
        "To: xtxgov@126.com",
        "Subject: =?gb18030?B?"
        + base64.b64encode("中路铺镇9月照片".encode("gb18030")).decode()
        + "?=",
        "Date: Tue, 12 Sep 2023 21:59:00 +0800",
        "Message-ID: <tencent_qq_0912@qq.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="----=_NextPart_QQ"',
        "",
        "------=_NextPart_QQ",
        'Content-Type: text/plain; charset="gb18030"',
        "Content-Transfer-Encoding: base64",
        "",
        b64(text.encode("gb18030")),
        "------=_NextPart_QQ",
        'Content-Type: text/html; charset="gb18030"',
        "Content-Transfer-Encoding: base64",
        "",
        b64(html.encode("gb18030")),
        "------=_NextPart_QQ--",
    )


def inline_related() -> bytes:
    """An HTML mail with a photo pasted into the body (multipart/related, cid:)."""
    return crlf(
        "From: Tian Long <tianlong@126.com>",
        "To: xtxgov@126.com, =?utf-8?B?" + base64.b64encode("办公室".encode()).decode() + "?=",
        " <office@xiangtan.gov.cn>",
        "Cc: A@Example.COM",
        "Subject: report",
        "Date: 12 Jun 2023 08:00:00 +0800",
        "Message-ID: <related@126.com>",
        "In-Reply-To: <reminder-7@126.com>",
        "References: <reminder-6@126.com>",
        "\t<reminder-7@126.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/related; boundary="rel"',
        "",
        "--rel",
        "Content-Type: text/html; charset=gb2312",
        "Content-Transfer-Encoding: 8bit",
        "",
        '<p>图片如下</p><img src="cid:photo001@126.com">'.encode("gbk"),
        "--rel",
        "Content-Type: image/jpeg",
        "Content-ID: <photo001@126.com>",
        "Content-Transfer-Encoding: base64",
        "",
        b64(JPEG),
        "--rel--",
    )


FIXTURES = {
    "foxmail_gbk_as_gb2312.eml": foxmail_gbk_as_gb2312,
    "raw_gbk_headers.eml": raw_gbk_headers,
    "raw_utf8_headers.eml": raw_utf8_headers,
    "split_encoded_words.eml": split_encoded_words,
    "big5_outlook.eml": big5_outlook,
    "rfc2231_continued_mislabelled.eml": rfc2231_continued_mislabelled,
    "forwarded_rfc822.eml": forwarded_rfc822,
    "bounce_report.eml": bounce_report,
    "missing_headers.eml": missing_headers,
    "missing_boundary.eml": missing_boundary,
    "bad_base64_truncated.eml": bad_base64_truncated,
    "netease_huge_attachment_qp.eml": netease_huge_attachment_qp,
    "qq_huge_attachment.eml": qq_huge_attachment,
    "inline_related.eml": inline_related,
}


def build() -> dict[str, bytes]:
    return {name: make() for name, make in FIXTURES.items()}


def main() -> int:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(FIXTURES)} fixtures to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

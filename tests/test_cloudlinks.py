"""intake.cloudlinks: photos too big to attach arrive as 超大附件 links in the body."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from intake.cloudlinks import CloudLink, find_cloud_links
from intake.parsing import parse_message

FIXTURES = Path(__file__).resolve().parent / "mails" / "parsing"
SH = ZoneInfo("Asia/Shanghai")
MB = 1024 * 1024

NETEASE_URL = (
    "https://mail.163.com/large-attachment-download/index.html"
    "?p=X-NETEASE-HUGE-ATTACHMENT&file=Xt9C6OiQlThxcHl1OlqSAGfB6&title=%E7%85%A7%E7%89%87.zip"
)
NETEASE_URL_2 = (
    "https://mail.126.com/large-attachment-download/index.html"
    "?p=X-NETEASE-HUGE-ATTACHMENT&file=SecondFileKey"
)
QQ_WX_URL = "https://wx.mail.qq.com/ftn/download?func=3&k=c7cc0d63&key=c7cc0d63&code=83dca72e"
QQ_OLD_URL = (
    "http://mail.qq.com/cgi-bin/ftnExs_download?t=exs_ftn_download&k=7d363834&code=7684decd"
)


def netease_block(*files: tuple[str, str, str]) -> str:
    """163 web mail's HTML block: icon link, name link, grey "(size, expiry 到期)" span."""
    rows = []
    for url, name, detail in files:
        href = url.replace("&", "&amp;")
        rows.append(
            '<div style="clear:both;height:36px;padding:6px 4px">'
            f'<div style="width:36px;float:left"><a href="{href}" target="_blank">'
            '<img src="https://mimg.127.net/xm/all/fj/ico-bfile-6.gif" border="0"></a></div>'
            f'<div><a href="{href}" target="_blank" style="color:#000">{name}</a>'
            f'<span style="color:#bbb"> {detail}</span></div>'
            f'<div><a href="{href}" target="_blank">下载</a></div></div>'
        )
    return (
        '<div style="background:#dee8f2;padding:4px;clear:both">'
        "<div><b>从网易163邮箱发来的超大附件</b></div>"
        f'<div style="background:#fff;padding:4px">{"".join(rows)}</div></div>'
    )


STORIES: list[tuple[str, str, str, list[CloudLink]]] = [
    (
        "one NetEase file in HTML",
        "",
        netease_block(
            (NETEASE_URL, "县林业局5月活动照片.zip", "(80.96M, 2024年08月22日 17:33 到期)")
        ),
        [
            CloudLink(
                "netease",
                NETEASE_URL,
                "县林业局5月活动照片.zip",
                round(80.96 * MB),
                datetime(2024, 8, 22, 17, 33, tzinfo=SH),
            )
        ],
    ),
    (
        "two NetEase files, one from a 126 box, one that never expires",
        "",
        netease_block(
            (NETEASE_URL, "活动视频.mp4", "(1.5G, 2023年06月01日 08:00 到期)"),
            (NETEASE_URL_2, "活动简报.docx", "(512K, 无限期)"),
        ),
        [
            CloudLink(
                "netease",
                NETEASE_URL,
                "活动视频.mp4",
                round(1.5 * 1024 * MB),
                datetime(2023, 6, 1, 8, 0, tzinfo=SH),
            ),
            CloudLink("netease", NETEASE_URL_2, "活动简报.docx", 512 * 1024, None),
        ],
    ),
    (
        "NetEase anchor attributes carry the exact size and expiry",
        "",
        f'<a href="{NETEASE_URL_2.replace("&", "&amp;")}" filename="B205-antenna.mp4" '
        'filesize="3781934" expiretime="1669354526000">B205-antenna.mp4</a>'
        '<span style="color:#bbb"> (3.61M, 2022年11月25日 13:35 到期)</span>',
        [
            CloudLink(
                "netease",
                NETEASE_URL_2,
                "B205-antenna.mp4",
                3781934,
                datetime(2022, 11, 25, 13, 35, 26, tzinfo=SH),
            )
        ],
    ),
    (
        "the old fs.163.com link, named only by its title= query",
        "",
        '<a href="http://fs.163.com/fs/display/?p=X-NETEASE-HUGE-ATTACHMENT&amp;file=Abc&amp;'
        'title=%E6%B1%9F%E6%A3%AE%E8%B5%84%E6%96%99"><img src="cid:ico"></a>',
        [
            CloudLink(
                "netease",
                "http://fs.163.com/fs/display/?p=X-NETEASE-HUGE-ATTACHMENT&file=Abc&"
                "title=%E6%B1%9F%E6%A3%AE%E8%B5%84%E6%96%99",
                "江森资料",
                None,
                None,
            )
        ],
    ),
    (
        "QQ plain text: details before the link, two files",
        "各位领导：照片较大。\n\n从QQ邮箱发来的超大附件\n\n"
        f"中路铺镇活动照片.zip (128.03M, 2020年11月27日 21:59 到期)进入下载页面：{QQ_OLD_URL}\n"
        f"活动视频.mp4 (2G, 无限期)进入下载页面：{QQ_WX_URL}\n",
        "",
        [
            CloudLink(
                "qq",
                QQ_OLD_URL,
                "中路铺镇活动照片.zip",
                round(128.03 * MB),
                datetime(2020, 11, 27, 21, 59, tzinfo=SH),
            ),
            CloudLink("qq", QQ_WX_URL, "活动视频.mp4", 2 * 1024 * MB, None),
        ],
    ),
    (
        "QQ HTML: name, 文件大小 and 到期时间 in the tooltip",
        "",
        '<div class="bigatt_bt" title="易俗河镇照片.rar&#10;文件大小：12.5M&#10;'
        '到期时间：2024年09月01日 10:00">'
        f'<a href="{QQ_WX_URL.replace("&", "&amp;")}">下载</a></div>',
        [
            CloudLink(
                "qq",
                QQ_WX_URL,
                "易俗河镇照片.rar",
                round(12.5 * MB),
                datetime(2024, 9, 1, 10, 0, tzinfo=SH),
            )
        ],
    ),
    (
        "the same file in text and HTML is one link, details merged",
        f"照片.zip (3M, 2024年01月02日 03:04 到期)进入下载页面：{QQ_WX_URL}",
        f'<a href="{QQ_WX_URL.replace("&", "&amp;")}">下载</a>',
        [CloudLink("qq", QQ_WX_URL, "照片.zip", 3 * MB, datetime(2024, 1, 2, 3, 4, tzinfo=SH))],
    ),
]


@pytest.mark.parametrize(
    ("story", "text", "html", "expected"), STORIES, ids=[s[0] for s in STORIES]
)
def test_story(story: str, text: str, html: str, expected: list[CloudLink]) -> None:
    assert find_cloud_links(text, html) == expected, story


@pytest.mark.parametrize(
    ("story", "url"),
    [
        ("a look-alike host", "https://mail.163.com.evil.cn/large-attachment-download/?file=x"),
        (
            "the real path on another host",
            "https://evil.cn/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT&file=x",
        ),
        ("user-info trick", "https://mail.163.com@evil.cn/large-attachment-download/?file=x"),
        ("a NetEase page that is not a download", "https://mail.163.com/js6/main.jsp?sid=abc"),
        ("QQ's home page", "https://mail.qq.com/cgi-bin/frame_html?sid=1"),
        ("a QQ-ish host", "https://wx.mail.qq.com.cn/ftn/download?k=1"),
        ("not http", "ftp://mail.163.com/large-attachment-download/?file=x"),
        ("a third-party cloud drive", "https://pan.baidu.com/s/1abcdef"),
        (
            "allow-listed host named in a query",
            "https://evil.cn/?u=https://wx.mail.qq.com/ftn/download",
        ),
    ],
)
def test_links_off_the_allow_list_are_ignored(story: str, url: str) -> None:
    text = f"照片.zip (3M, 2024年01月02日 03:04 到期)进入下载页面：{url}"
    html = f'<a href="{url}">照片.zip</a> (3M, 2024年01月02日 03:04 到期)'
    assert find_cloud_links(text, html) == [], story


@pytest.mark.parametrize(
    "url",
    [
        "https://mail.yeah.net/large-attachment-download/index.html?file=y1",
        "https://hz.mail.163.com/large-attachment-download/index.html?file=y2",
        "https://exmail.qq.com/cgi-bin/ftnExs_download?k=y3&code=1",
        "https://iwx.mail.qq.com/ftn/download?func=3&key=y4&code=1",
    ],
)
def test_allow_listed_hosts_and_subdomains(url: str) -> None:
    (link,) = find_cloud_links(f"{url}\n", "")
    assert link.url == url


def test_plain_mail_has_no_cloud_links() -> None:
    assert find_cloud_links("县林业局5月活动照片见附件。https://www.xiangtan.gov.cn/", "") == []
    assert find_cloud_links("", "") == []


def test_hostile_html_does_not_break() -> None:
    html = "<a href='" + "x" * 100_000 + "'><div title='" + "<" * 5000 + NETEASE_URL
    assert isinstance(find_cloud_links("", html), list)


def test_quoted_printable_mail_yields_the_netease_link() -> None:
    # In the raw mail the URL is cut by soft line breaks ("=\r\n") and "=" is "=3D".
    raw = (FIXTURES / "netease_huge_attachment_qp.eml").read_bytes()
    assert b"=\r\n" in raw and b"p=3DX-NETEASE" in raw.replace(b"=\r\n", b"")
    assert b"X-NETEASE-HUGE-ATTACHMENT&file=Sy2W9lTU-w7vguqZrlWFpokrrFG4wg5EhEj3dMze" not in raw
    mail = parse_message(raw)
    links = find_cloud_links(mail.text, mail.html)
    assert links == [
        CloudLink(
            "netease",
            "https://mail.163.com/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT"
            "&file=Sy2W9lTU-w7vguqZrlWFpokrrFG4wg5EhEj3dMzeTYbDfSr3lygA3p9yWJTf8RpsEiHvF7oIAGV5j9A5bObShQ"
            "&title=%E5%8E%BF%E6%9E%97%E4%B8%9A%E5%B1%80%E6%B4%BB%E5%8A%A8%E8%A7%86%E9%A2%91.mp4",
            "县林业局活动视频.mp4",
            round(80.96 * MB),
            datetime(2024, 8, 22, 17, 33, tzinfo=SH),
        )
    ]


def test_qq_mail_yields_the_qq_link_from_both_bodies() -> None:
    mail = parse_message((FIXTURES / "qq_huge_attachment.eml").read_bytes())
    (link,) = find_cloud_links(mail.text, mail.html)
    assert link.provider == "qq"
    assert link.name == "中路铺镇9月活动照片.zip"
    assert link.size_bytes == round(1.2 * 1024 * MB)
    assert link.expires_at == datetime(2023, 10, 12, 21, 59, tzinfo=SH)
    assert link.expires_at is not None and link.expires_at.utcoffset() is not None
    # each body alone finds it too
    assert [x.url for x in find_cloud_links(mail.text, "")] == [link.url]
    assert [x.url for x in find_cloud_links("", mail.html)] == [link.url]

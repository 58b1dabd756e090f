"""intake.charset: the bytes units' mail clients really send, and the text they meant."""

from __future__ import annotations

import base64
import random

import pytest

from intake.charset import canonical_charset, decode_bytes, decode_header_value

# Names that are in GBK but not in GB2312: the classic victims of a "gb2312" label.
GBK_ONLY_NAMES = "朱镕基 王喆 李堃"


def bword(text: str, label: str, codec: str | None = None) -> str:
    return f"=?{label}?B?{base64.b64encode(text.encode(codec or label)).decode()}?="


def qword(data: bytes, label: str) -> str:
    return f"=?{label}?Q?{''.join(f'={b:02X}' for b in data)}?="


def surrogates(data: bytes) -> str:
    """What the compat32 policy hands over for raw 8-bit header bytes."""
    return data.decode("ascii", "surrogateescape")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("gb2312", "gb18030"),
        ("GB2312", "gb18030"),
        ('"gbk"', "gb18030"),
        ("x-gbk", "gb18030"),
        ("cp936", "gb18030"),
        ("EUC-CN", "gb18030"),
        ("gb18030", "gb18030"),
        ("gb2312*zh-cn", "gb18030"),  # RFC 2231 language suffix
        ("big5", "big5hkscs"),
        ("Big5-HKSCS", "big5hkscs"),
        ("UTF8", "utf-8"),
        ("utf-8", "utf-8"),
        ("ISO-8859-1", "iso-8859-1"),
        ("windows-1252", "windows-1252"),
        ("us-ascii", "us-ascii"),
        (None, None),
        ("", None),
        ("x-unknown", None),
        ("unknown-8bit", None),
        ("base64", None),  # a codec Python knows, but not a character set
        ("rot13", None),
        ("no-such-charset", None),
    ],
)
def test_canonical_charset(label: str | None, expected: str | None) -> None:
    assert canonical_charset(label) == expected


@pytest.mark.parametrize(
    ("story", "data", "declared", "expected"),
    [
        (
            "Foxmail labels GBK bytes gb2312; the GBK-only names survive",
            GBK_ONLY_NAMES.encode("gbk"),
            "gb2312",
            GBK_ONLY_NAMES,
        ),
        (
            "a part that says utf-8 but holds GBK",
            "县林业局五月份活动".encode("gbk"),
            "utf-8",
            "县林业局五月份活动",
        ),
        (
            "8-bit GBK with no charset at all",
            "湘潭县应急管理局 许堃".encode("gbk"),
            None,
            "湘潭县应急管理局 许堃",
        ),
        (
            "8-bit UTF-8 with no charset",
            "花石镇６月活动".encode(),
            None,
            "花石镇６月活动",
        ),
        (
            "Big5 labelled big5 but holding an HKSCS name",
            "聯絡人許喆".encode("big5hkscs"),
            "big5",
            "聯絡人許喆",
        ),
        (
            "undeclared Big5 from a traditional-Chinese Outlook",
            "縣應急管理局五月份活動報告".encode("big5"),
            None,
            "縣應急管理局五月份活動報告",
        ),
        (
            "Chinese text behind a Latin-1 label from an old web form",
            "政务公开主题日活动".encode("gbk"),
            "iso-8859-1",
            "政务公开主题日活动",
        ),
        (
            "UTF-8 behind a windows-1252 label",
            "射埠镇".encode(),
            "windows-1252",
            "射埠镇",
        ),
        ("real Latin-1 stays Latin-1", "Café".encode("latin-1"), "iso-8859-1", "Café"),
        (
            "unknown label: content decides",
            "易俗河镇".encode("gbk"),
            "x-user-defined-nonsense",
            "易俗河镇",
        ),
        ("UTF-8 with a byte order mark", "\ufeff报告".encode(), "utf-8", "报告"),
        (
            "a truncated UTF-8 mail loses only the cut character",
            "青山桥镇十二月".encode()[:-1],
            "utf-8",
            "青山桥镇十二\ufffd",
        ),
        (
            "a truncated GBK text loses only the cut character",
            "青山桥镇十二月".encode("gbk")[:-1],
            None,
            "青山桥镇十二\ufffd",
        ),
        ("empty", b"", "gb2312", ""),
        ("plain ASCII under any label", b"report 2023-05", "big5", "report 2023-05"),
    ],
)
def test_decode_bytes(story: str, data: bytes, declared: str | None, expected: str) -> None:
    assert decode_bytes(data, declared) == expected, story


def test_decode_bytes_prefers_gbk_for_every_unit_name_of_the_notice() -> None:
    # Undeclared 8-bit text is GBK far more often than Big5: no unit name may flip.
    names = [
        "县林业局",
        "湘潭县人力资源和社会保障局",
        "县应急管理局",
        "县应急局",
        "易俗河镇",
        "中路铺镇",
        "花石镇",
        "射埠镇",
        "乌石镇",
        "青山桥镇",
        "县文化旅游广电体育局",
        "县卫生健康局",
        "县政务服务中心",
        "县市场监督管理局",
    ]
    for name in names:
        for text in (name, f"回复：{name}5月活动照片", f"{name}（十二月份）"):
            assert decode_bytes(text.encode("gbk")) == text


def test_decode_bytes_never_raises_on_random_bytes() -> None:
    rng = random.Random(20230525)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        for declared in (None, "gb2312", "utf-8", "big5", "x-bogus", "iso-2022-jp"):
            assert isinstance(decode_bytes(data, declared), str)


GBK_B64 = base64.b64encode(GBK_ONLY_NAMES.encode("gbk")).decode()
UTF8_SUBJECT = "县人力资源和社会保障局7月报送".encode()


@pytest.mark.parametrize(
    ("story", "value", "expected"),
    [
        ("missing header", None, ""),
        ("plain ASCII", "Re: report", "Re: report"),
        (
            "GBK names inside a gb2312 encoded-word",
            f"=?gb2312?B?{GBK_B64}?=",
            GBK_ONLY_NAMES,
        ),
        (
            "UTF-8 encoded-words split inside a character",
            f"=?UTF-8?B?{base64.b64encode(UTF8_SUBJECT[:4]).decode()}?=\r\n"
            f" =?UTF-8?B?{base64.b64encode(UTF8_SUBJECT[4:]).decode()}?=",
            "县人力资源和社会保障局7月报送",
        ),
        (
            "Q-encoded GBK split between the two bytes of 人",
            qword("县人社局".encode("gbk")[:3], "GB2312")
            + " "
            + qword("县人社局".encode("gbk")[3:], "GB2312"),
            "县人社局",
        ),
        (
            "base64 split inside a quantum",
            "=?utf-8?B?5Lit5p?= =?utf-8?B?aH5paH?=",
            "中文文",
        ),
        (
            "raw 8-bit GBK subject, no encoded-word",
            surrogates("回复：县应急管理局五月份".encode("gbk")),
            "回复：县应急管理局五月份",
        ),
        (
            "raw 8-bit UTF-8 subject",
            surrogates("花石镇６月活动图片".encode()),
            "花石镇６月活动图片",
        ),
        (
            "raw bytes handed over as bytes",
            "转发：易俗河镇".encode("gbk"),
            "转发：易俗河镇",
        ),
        (
            "ASCII prefix before a raw GBK tail",
            "Fw: " + surrogates("县林业局".encode("gbk")),
            "Fw: 县林业局",
        ),
        (
            "Outlook puts the encoded-word inside quotes",
            f'"{bword("县林业局", "gb2312", "gbk")}" <lyj@163.com>',
            '"县林业局" <lyj@163.com>',
        ),
        (
            "Big5 encoded-word with an HKSCS character",
            bword("許喆", "big5", "big5hkscs"),
            "許喆",
        ),
        (
            "text between encoded-words is kept, whitespace between them is not",
            f"{bword('县林业局', 'utf-8')} - {bword('5月', 'utf-8')} {bword('报送', 'utf-8')}",
            "县林业局 - 5月报送",
        ),
        (
            "different charsets side by side",
            f"{bword('县', 'gbk')} {bword('林业局', 'utf-8')}",
            "县林业局",
        ),
        ("encoded-word glued to text", "Re:=?utf-8?B?5Lit5paH?=abc", "Re:中文abc"),
        ("folded plain header", "a long\r\n subject", "a long subject"),
        (
            "unknown charset label: the bytes decide",
            bword("中文报告", "x-weird", "gbk"),
            "中文报告",
        ),
        ("broken base64 is kept readable", "=?utf-8?B?!!!?=", ""),
        ("a lone =? is just text", "5 =? 6", "5 =? 6"),
    ],
)
def test_decode_header_value(story: str, value: str | bytes | None, expected: str) -> None:
    assert decode_header_value(value) == expected, story


def test_decode_header_value_never_raises() -> None:
    rng = random.Random(7)
    alphabet = "=?QqBb_ abc" + "".join(chr(c) for c in range(0xDC80, 0xDC90))
    for _ in range(500):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        assert isinstance(decode_header_value(value), str)

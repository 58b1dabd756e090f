"""Chinese normalisation for matching (intake.text)."""

from __future__ import annotations

import pytest

from intake.text import html_to_text, normalize, normalize_lines, split_quoted, strip_reply_prefixes


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("湘潭縣林業局", "湘潭县林业局"),
        ("５月　报送", "5月 报送"),
        ("自動回覆", "自动回复"),
        ("Re:  Hello", "re: hello"),
        ("①5月②", "5月"),
        ("⑴⒈❶", ""),
        ("", ""),
    ],
)
def test_it_normalizes(raw: str, folded: str) -> None:
    assert normalize(raw) == folded


def test_it_keeps_lines_when_asked() -> None:
    assert normalize_lines("林業局\n５月") == "林业局\n5月"


@pytest.mark.parametrize(
    "subject",
    [
        "回复：县林业局",
        "回复: 转发：县林业局",
        "Re: Fw: 县林业局",
        "Fwd:县林业局",
        "答复: 县林业局",
        "回覆：轉發：县林业局",
        "[转发]县林业局",
        "RE[2]: 县林业局",
    ],
)
def test_it_strips_reply_prefixes(subject: str) -> None:
    assert strip_reply_prefixes(subject) == "县林业局"


def test_it_leaves_a_subject_without_prefix() -> None:
    assert strip_reply_prefixes("关于回复：的说明") == "关于回复：的说明"


def test_it_strips_html() -> None:
    html = "<html><head><style>p{x}</style><title>T</title></head><body><p>湘潭县&nbsp;林业局</p><script>x()</script><div>5月</div></body></html>"
    assert html_to_text(html) == "湘潭县 林业局\n5月"


@pytest.mark.parametrize(
    "marker",
    [
        "------------------ 原始邮件 ------------------",
        "-----Original Message-----",
        "在 2023年5月20日 10:00，xtxgov<xtxgov@126.com> 写道：",
        "On Mon, May 20, 2023 at 10:00 AM xtxgov wrote:",
        "发件人: xtxgov@126.com\n发送时间: 2023年5月20日",
        "发件人: xtxgov@126.com\n主题: 联络员信息表",
        "From: xtxgov@126.com\nSubject: 主题日活动提醒",
        "发件人: xtxgov@126.com\n抄送: 县林业局",
        "---- Replied Message ----",
    ],
)
def test_it_splits_the_quoted_original(marker: str) -> None:
    own, quoted = split_quoted(f"我局图片见附件。\n\n{marker}\n请县消防救援大队报送")
    assert own == "我局图片见附件。"
    assert "县消防救援大队" in quoted


def test_it_treats_angle_quoted_lines_as_quoted() -> None:
    own, quoted = split_quoted("补充图片\n> 石鼓镇：请补充\n谢谢")
    assert own == "补充图片\n谢谢"
    assert quoted == "> 石鼓镇：请补充"

"""First sorting of a mail: what it is before anyone asks which unit sent it.

Auto-replies, bounces, mailing lists and newsletters, the office's own mail, the mail
providers' system notices (quota, file-transfer expiry), account phishing, plain spam and
bare acknowledgements ("收到") are ignored; liaison forms (annex 5) are recognised; the rest
is a candidate report for the matcher. Reasons are simplified Chinese, for clerks.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from intake.cloudlinks import find_cloud_links
from intake.text import html_to_text, normalize, normalize_lines, split_quoted, strip_reply_prefixes

if TYPE_CHECKING:
    from intake.parsing import ParsedMail

__all__ = [
    "Classification",
    "body_text",
    "classify",
    "is_forward",
    "is_reply",
    "real_attachments",
]

KIND_REPORT = "report"
KIND_LIAISON = "liaison"
KIND_OTHER = "other"


@dataclass(frozen=True)
class Classification:
    kind: str  # report | liaison | other
    ignored: bool
    reasons: tuple[str, ...]
    spam: bool = False  # ignored as advertising; the matcher un-ignores it if a unit is named


_AUTO_SUBJECT = re.compile(
    r"自动回复|自动答复|自动应答|auto[- ]?reply|automatic reply|autoreply|out of office|"
    r"休假自动|外出自动|不在办公室"
)
_BOUNCE_SUBJECT = re.compile(
    r"系统退信|退信|来自.{0,12}的退信|undeliver|delivery status notification|"
    r"mail delivery failed|returned mail|delivery failure|投递失败|发送失败"
)
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
# The mail providers' own system senders (quota warnings, file-transfer expiry, security notes):
# NetEase service domains, QQ's numbered system accounts (10000@qq.com ...), and the no-reply
# style local parts any provider or platform uses. No unit writes from these.
_SYSTEM_DOMAINS = (
    "netease.com",
    "service.163.com",
    "service.126.com",
    "notice.qq.com",
    "service.qq.com",
    "mail.qq.com",
    "tencent.com",
    "exmail.qq.com",
)
_SYSTEM_QQ = re.compile(r"^1000[0-9]@qq\.com$")
_SYSTEM_LOCAL = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|notification|notifications|notify|"
    r"system|sysadmin|mailadmin|mail-?noreply|bounce|bounces)(?:[-_.+].*)?$"
)
# Account-security phishing: the mailbox or account is said to be abnormal, full, frozen ...
_ACCOUNT_WORDS = re.compile(r"邮箱|账号|帐号|账户|帐户|密码")
_SECURITY_WORDS = re.compile(
    r"异常|验证|冻结|停用|注销|封停|过期|到期|升级|已满|容量|重新登录|异地登录|安全中心|被盗|失效"
)
_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_SPAM_TERMS = (
    "发票",
    "代开",
    "贷款",
    "低息",
    "无抵押",
    "网贷",
    "套现",
    "刷单",
    "兼职",
    "博彩",
    "中奖",
    "理财产品",
    "促销",
    "优惠券",
    "推广",
    "加微信",
    "加v",
    "退订",
    "取消订阅",
    "unsubscribe",
)
_CAMPAIGN_WORDS = re.compile(r"政务公开|主题日|活动开展|信息报送|联络员")
_ACK_WORDS = re.compile(
    r"收到|已收|收悉|知悉|好的|明白|了解|谢谢|感谢|辛苦|ok|okay|好|嗯|遵照执行|按时报送|马上|尽快"
)
_REPORT_WORDS = re.compile(r"开展|举办|组织|活动情况|图片|照片|附件|超大附件|见附|[0-9]月|月份")
_QUESTION = re.compile(r"请问|可否|能否|是否可以|是否需要|[?？]")
_LIAISON_MARK = re.compile(r"联络员")
_LIAISON_FIELDS = re.compile(r"姓名|性别|职务|手机|办公电话|微信|qq|传真|电子邮箱")
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_CLOUD_LINK = re.compile(
    r"超大附件|large-attachment-download|ftn_handler|ftnexs_download|/ftn/download"
)
_PUNCT = re.compile(r"[\s\W_]+")


# The matcher and the classifier read at most this much of a body: a unit's own words come
# first, a long thread quoted below them adds nothing but time.
MAX_BODY_CHARS = 256 * 1024


def body_text(mail: ParsedMail) -> str:
    """The plain-text body, or the visible text of the HTML body when there is no plain one
    (at most ``MAX_BODY_CHARS`` characters)."""
    text = mail.text if mail.text.strip() else html_to_text(mail.html)
    return text[:MAX_BODY_CHARS]


def real_attachments(mail: ParsedMail) -> list[str]:
    """File names of the attachments that are not inline pieces of an HTML body."""
    return [a.filename for a in mail.attachments if not (a.inline and a.content_id)]


def is_reply(mail: ParsedMail) -> bool:
    subject = normalize(mail.subject)
    return bool(re.match(r"\s*(回复|答复|re)\s*[:：]", subject))


def is_forward(mail: ParsedMail) -> bool:
    subject = normalize(mail.subject)
    return bool(re.match(r"\s*(?:(?:回复|答复|re)\s*[:：]\s*)*(转发|转寄|fw|fwd)\s*[:：]", subject))


def _header(mail: ParsedMail, name: str) -> str | None:
    value = mail.headers.get(name)
    return None if value is None else str(value).strip()


def _auto_reply_reasons(mail: ParsedMail, subject: str) -> list[str]:
    reasons = []
    auto = _header(mail, "auto-submitted")
    if auto is not None and auto.lower() != "no":
        reasons.append(f"自动发送的邮件（Auto-Submitted: {auto}）")
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-loop"):
        if _header(mail, name) is not None:
            reasons.append(f"自动回复标记（{name}）")
    precedence = (_header(mail, "precedence") or "").lower()
    if precedence in _AUTO_PRECEDENCE:
        reasons.append(f"群发或自动邮件（Precedence: {precedence}）")
    lists = sorted(h for h in mail.headers if h.lower().startswith("list-"))
    if lists:
        reasons.append(f"邮件列表或订阅邮件（{lists[0]}）")
    if _AUTO_SUBJECT.search(subject):
        reasons.append("主题为自动回复")
    return reasons


def _bounce_reasons(mail: ParsedMail, subject: str) -> list[str]:
    reasons = []
    if mail.return_path == "":
        reasons.append("退信：发件人为空（Return-Path: <>）")
    local = mail.from_addr.split("@", 1)[0]
    if local in _BOUNCE_SENDERS:
        reasons.append(f"退信：发件人为 {mail.from_addr}")
    if mail.content_type == "multipart/report" and (mail.report_type or "").lower() in (
        "delivery-status",
        "disposition-notification",
    ):
        reasons.append(f"投递状态报告（{mail.report_type}）")
    if _BOUNCE_SUBJECT.search(subject):
        reasons.append("主题为退信通知")
    return reasons


def _system_sender_reasons(mail: ParsedMail) -> list[str]:
    """Mail written by a mail provider's system, not by a person."""
    address = (mail.from_addr or "").lower()
    if "@" not in address:
        return []
    local, domain = address.split("@", 1)
    if (
        any(domain == d or domain.endswith("." + d) for d in _SYSTEM_DOMAINS)
        or _SYSTEM_QQ.match(address)
        or _SYSTEM_LOCAL.match(local)
    ):
        return [f"邮箱服务商或系统自动发出的通知（发件人 {address}），无需处理"]
    return []


def _phishing_reasons(subject: str, body: str) -> list[str]:
    """A warning about the mailbox account (异常/验证/冻结/容量 ...) in a mail about nothing else."""
    if _CAMPAIGN_WORDS.search(subject) or _CAMPAIGN_WORDS.search(body):
        return []
    if _ACCOUNT_WORDS.search(subject) and _SECURITY_WORDS.search(subject):
        return [f"疑似钓鱼邮件（邮箱账号安全类提示：{subject[:30]}）"]
    return []


def _spam_terms(subject: str, body: str) -> list[str]:
    if _CAMPAIGN_WORDS.search(subject) or _CAMPAIGN_WORDS.search(body):
        return []
    in_subject = [t for t in _SPAM_TERMS if t in subject]
    in_body = [t for t in _SPAM_TERMS if t in body and t not in in_subject]
    if in_subject or len(in_body) >= 2:
        return in_subject + in_body
    return []


def _is_acknowledgement(mail: ParsedMail, own_text: str) -> bool:
    """A reply that only says 收到/好的: nothing attached, a few words, no report content."""
    if real_attachments(mail) or not (is_reply(mail) or mail.in_reply_to):
        return False
    words = _PUNCT.sub("", own_text)
    words = re.sub(r"^(?:\S{0,12}?(?:您好|你好))", "", words)
    if not words or len(words) > 30:
        return False
    if not _ACK_WORDS.search(words) or _REPORT_WORDS.search(words):
        return False
    return "超大附件" not in own_text and not find_cloud_links(mail.text, mail.html)


def _is_question(mail: ParsedMail, subject: str, own_text: str) -> bool:
    """A question to the office (请问/可否/是否 ... ?) with nothing attached."""
    if real_attachments(mail) or "超大附件" in own_text:
        return False
    return bool(_QUESTION.search(subject) or _QUESTION.search(own_text))


def looks_like_liaison(
    subject: str, own_text: str, filenames: list[str], *, reply: bool = False
) -> bool:
    """Annex 5: 联络员信息表, or 联络员 together with the form's fields.

    A reply carries the subject of the mail it answers: in a reply without attachments the
    subject alone does not make a form, the reply's own text must hold the form's fields.
    """
    names = " ".join(filenames)
    fields = len(set(_LIAISON_FIELDS.findall(own_text)))
    if reply and not filenames:
        has_mobile = bool(_MOBILE.search(own_text))
        return bool(_LIAISON_MARK.search(subject + own_text)) and (
            fields >= 2 or (fields >= 1 and has_mobile)
        )
    if "联络员信息" in subject or "联络员信息" in names or "联络员信息表" in own_text:
        return True
    if _LIAISON_MARK.search(subject) or _LIAISON_MARK.search(names):
        return True
    return bool(_LIAISON_MARK.search(own_text)) and fields >= 2


def classify(mail: ParsedMail, own_addresses: Collection[str]) -> Classification:
    """Sort a mail into report | liaison | other, and say whether it is to be ignored."""
    subject = normalize(mail.subject)
    own = {a.lower() for a in own_addresses}
    if mail.from_addr and mail.from_addr.lower() in own:
        return Classification(KIND_OTHER, True, (f"本办公室自己发出的邮件（{mail.from_addr}）",))
    bounce = _bounce_reasons(mail, subject)
    if bounce:
        return Classification(KIND_OTHER, True, tuple(bounce))
    auto = _auto_reply_reasons(mail, subject)
    if auto:
        return Classification(KIND_OTHER, True, tuple(auto))
    system = _system_sender_reasons(mail)
    if system:
        return Classification(KIND_OTHER, True, tuple(system))

    body = normalize_lines(body_text(mail))
    own_text, _quoted = split_quoted(body)
    phishing = _phishing_reasons(strip_reply_prefixes(subject), own_text)
    if phishing:  # like spam: the matcher un-ignores it when a unit is named
        return Classification(KIND_OTHER, True, tuple(phishing), spam=True)
    spam = _spam_terms(subject, own_text)
    if spam:
        return Classification(
            KIND_OTHER, True, ("疑似广告邮件，含：" + "、".join(spam[:4]),), spam=True
        )

    if _is_acknowledgement(mail, own_text):
        return Classification(
            KIND_OTHER, True, ("仅为简短回复（如“收到”“好的”），无附件，无需处理",)
        )

    if _is_question(mail, subject, own_text):
        return Classification(KIND_OTHER, False, ("邮件为询问，无附件，请人工答复",))

    filenames = [normalize(n) for n in real_attachments(mail)]
    bare_subject = strip_reply_prefixes(subject)
    reply = is_reply(mail) or bool(mail.in_reply_to)
    if looks_like_liaison(bare_subject, own_text, filenames, reply=reply):
        return Classification(KIND_LIAISON, False, ("联络员信息表",))
    return Classification(KIND_REPORT, False, ())

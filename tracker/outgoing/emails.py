"""Rendering the emails we send: Jinja2 templates in, `EmailMessage` out.

Each email is a trio in `tracker/templates/`: `<name>.subject.txt`, `<name>.body.txt` and
`<name>.body.html` (autoescaped). A file of the same name in the configured
`[templates] dir` overrides the packaged one, so the office can reword any mail.

Headers are built with `email.message.EmailMessage` (policy SMTP on the wire): every
value that comes from data (unit names, subjects, display names) is folded onto one line
first, so a CR/LF in a unit name or an incoming subject can never add a header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from tracker.config import Config
from tracker.roster import period_of

PACKAGED = Path(__file__).parent.parent / "templates"
EMAILS = (
    "receipt",
    "sender_notice",
    "receipt_review",
    "reminder_month_start",
    "reminder_before",
    "reminder_overdue",
    "digest",
    "alert",
    "alert_recovered",
)
DEFAULT_SENDER_NAME = "政务公开主题日报送系统"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


class MailConfigError(Exception):
    """Mail cannot be built with this config (no `[smtp] from`): one readable line."""


NO_SENDER = (
    "[smtp] from: missing (the address mail is sent from): "
    "set [smtp] host and from to build or send mail"
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class InlineImage:
    """An image shown in the HTML by Content-ID (`<img src="cid:{cid}">`)."""

    cid: str  # without angle brackets
    data: bytes
    subtype: str = "jpeg"


def one_line(value: object, limit: int = 300) -> str:
    """A header-safe single line: control characters (CR, LF, ...) become spaces."""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    return text[:limit]


def period_label(period: str | None) -> str:
    if not period:
        return "月份未定"
    year, month = period_of(period)
    return f"{year}年{month}月"


def date_label(day: date | datetime) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def when_label(when: date | datetime, year: int, *, clock: bool = True) -> str:
    """A day as a clerk reads it in a list: 5月3日 (with the time, 5月3日 10:05), and with
    its year, 2022年12月28日, when that is not `year` (the year of the mail it is in): a
    January digest can list a mail from last December."""
    day = f"{when.month}月{when.day}日"
    if when.year != year:
        day = f"{when.year}年{day}"
    if clock and isinstance(when, datetime):
        day += f" {when.hour:02d}:{when.minute:02d}"
    return day


def size_label(size: int | None) -> str:
    if size is None:
        return "大小未知"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


@lru_cache(maxsize=8)
def _environment(templates_dir: str | None) -> SandboxedEnvironment:
    loaders = []
    if templates_dir:
        loaders.append(FileSystemLoader(templates_dir))
    loaders.append(FileSystemLoader(str(PACKAGED)))
    # Sandboxed: a template (the packaged ones, or an office's override) can read the values
    # it is given and call the filters below, never Python's internals.
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    env.filters["period_label"] = period_label
    env.filters["date_label"] = date_label
    env.filters["size_label"] = size_label
    return env


def render(name: str, ctx: Mapping[str, Any], templates_dir: Path | str | None = None) -> Rendered:
    """Render the trio of email `name`; files in `templates_dir` win over packaged ones."""
    env = _environment(str(templates_dir) if templates_dir else None)
    subject = env.get_template(f"{name}.subject.txt").render(ctx)
    text = env.get_template(f"{name}.body.txt").render(ctx)
    html = env.get_template(f"{name}.body.html").render(ctx)
    return Rendered(one_line(subject, 250), text, html)


DEFAULT_ACTIVITY = "政务公开主题日"


def activity_of(campaign_name: str) -> str:
    """What the mail calls the activity: the campaign's name without its year
    (2024年政务公开主题日 -> 政务公开主题日), so templates say it for any campaign."""
    name = campaign_name.strip()
    head, sep, rest = name[:6].partition("年")
    if sep and len(head) == 4 and head.isdigit() and (rest + name[6:]).strip():
        return (rest + name[6:]).strip()
    return name or DEFAULT_ACTIVITY


def base_context(config: Config, campaign: Any = None) -> dict[str, Any]:
    name = getattr(campaign, "name", "") if campaign is not None else ""
    return {
        "sender_name": config.smtp.sender_name or DEFAULT_SENDER_NAME,
        "sender": config.smtp.sender,
        "campaign": campaign,
        "activity": activity_of(name) if name else DEFAULT_ACTIVITY,
    }


def build_message(
    config: Config,
    *,
    to: Sequence[str],
    rendered: Rendered,
    cc: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    images: Sequence[InlineImage] = (),
) -> EmailMessage:
    """A multipart/alternative message (text + html, html with related inline images).

    Raises `MailConfigError` (one line) when `[smtp] from` is not set."""
    if not config.smtp.sender:
        raise MailConfigError(NO_SENDER)
    msg = EmailMessage(policy=policy.default)
    name = one_line(config.smtp.sender_name or DEFAULT_SENDER_NAME, 100)
    msg["From"] = Address(display_name=name, addr_spec=config.smtp.sender)
    msg["To"] = [Address(addr_spec=one_line(a, 320)) for a in to]
    if cc:
        msg["Cc"] = [Address(addr_spec=one_line(a, 320)) for a in cc]
    msg["Subject"] = one_line(rendered.subject, 250)
    msg["Message-ID"] = make_msgid(idstring="ri", domain=_domain(config.smtp.sender))
    for key, value in (headers or {}).items():
        msg[one_line(key, 60)] = one_line(value, 900)
    # base64 keeps the message 7-bit clean for every relay (Chinese text in 8bit is not)
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="base64")
    if images:
        html_part = cast(EmailMessage, msg.get_payload()[1])  # type: ignore[index]
        for img in images:
            html_part.add_related(
                img.data, maintype="image", subtype=img.subtype, cid=f"<{img.cid}>"
            )
    return msg


def recipients_of(msg: EmailMessage) -> list[str]:
    """Envelope recipients: every address in To and Cc."""
    out: list[str] = []
    for field in ("To", "Cc"):
        header = msg[field]
        if header is not None:
            out.extend(a.addr_spec.lower() for a in header.addresses)
    return list(dict.fromkeys(out))


def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1] if "@" in sender else "report-intake.invalid"


# --- one function per email --------------------------------------------------------------


def receipt_message(
    config: Config,
    *,
    to: str,
    ctx: Mapping[str, Any],
    in_reply_to: str | None,
    references: Sequence[str] = (),
    template: str = "receipt",
) -> EmailMessage:
    """The receipt for a recorded report (template `receipt`; `receipt_review` for the
    已收到，正在核实 note), threaded as a reply when `in_reply_to` is given."""
    rendered = render(template, ctx, config.templates_dir)
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        headers["References"] = " ".join([*references, in_reply_to][-10:])
    return build_message(config, to=[to], rendered=rendered, headers=headers)


def sender_notice_message(config: Config, *, to: str, ctx: Mapping[str, Any]) -> EmailMessage:
    """To a unit's known address: a mail in its name came from an address it never used."""
    rendered = render("sender_notice", ctx, config.templates_dir)
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    return build_message(config, to=[to], rendered=rendered, headers=headers)


def reminder_message(
    config: Config,
    *,
    stage_kind: str,
    to: Sequence[str],
    cc: Sequence[str],
    ctx: Mapping[str, Any],
) -> EmailMessage:
    """A reminder: `stage_kind` is month_start | before | overdue."""
    if "activity" not in ctx:
        ctx = {**ctx, "activity": activity_of(str(ctx.get("campaign_name") or ""))}
    rendered = render(f"reminder_{stage_kind}", ctx, config.templates_dir)
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    return build_message(config, to=to, cc=cc, rendered=rendered, headers=headers)


def digest_message(
    config: Config,
    *,
    to: Sequence[str],
    ctx: Mapping[str, Any],
    images: Sequence[InlineImage] = (),
) -> EmailMessage:
    rendered = render("digest", ctx, config.templates_dir)
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    return build_message(config, to=to, rendered=rendered, headers=headers, images=images)


def alert_message(
    config: Config,
    *,
    to: Sequence[str],
    recovered: bool,
    ctx: Mapping[str, Any],
) -> EmailMessage:
    """The watchdog's mail to staff: intake failing (`alert`) or back (`alert_recovered`)."""
    rendered = render("alert_recovered" if recovered else "alert", ctx, config.templates_dir)
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    return build_message(config, to=to, rendered=rendered, headers=headers)

"""Build `ParsedMail` values directly, for the matcher's unit tests (no MIME involved)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from intake.matching import UnitRef
from intake.parsing import MailAttachment, ParsedMail
from intake.places import Jurisdiction
from tracker.roster import load_roster

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Asia/Shanghai")
OWN = ("xtxgov@126.com",)


def load_units(path: Path = ROOT / "examples" / "roster.toml") -> tuple[UnitRef, ...]:
    """The roster as the tracker hands it to the matcher."""
    return load_roster(path).unit_refs()


def load_jurisdiction(path: Path = ROOT / "examples" / "roster.toml") -> Jurisdiction:
    """The roster's place and parent as the tracker hands them to the matcher."""
    return load_roster(path).jurisdiction


def at(day: str) -> datetime:
    """'2023-05-18' or '2023-05-18 10:30' in Asia/Shanghai."""
    fmt = "%Y-%m-%d %H:%M" if " " in day else "%Y-%m-%d"
    return datetime.strptime(day, fmt).replace(tzinfo=ZONE)


def attachment(
    filename: str, content_type: str = "image/jpeg", payload: bytes = b"\xff\xd8\xff"
) -> MailAttachment:
    return MailAttachment(filename=filename, content_type=content_type, payload=payload)


def mail(
    subject: str = "",
    *,
    from_addr: str = "someone@qq.com",
    from_name: str = "",
    text: str = "",
    html: str = "",
    attachments: tuple[MailAttachment, ...] = (),
    headers: dict[str, str] | None = None,
    in_reply_to: str | None = None,
    content_type: str = "multipart/mixed",
    report_type: str | None = None,
    return_path: str | None = None,
    date: datetime | None = None,
) -> ParsedMail:
    return ParsedMail(
        message_id="<test@example.com>",
        from_addr=from_addr,
        from_name=from_name,
        to=("xtxgov@126.com",),
        cc=(),
        subject=subject,
        date=date,
        text=text,
        html=html,
        attachments=attachments,
        headers=dict(headers or {}),
        in_reply_to=in_reply_to,
        references=(),
        content_type=content_type,
        report_type=report_type,
        return_path=from_addr if return_path is None else return_path,
        errors=(),
    )

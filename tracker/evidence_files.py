"""The evidence of the year, by unit and month: folders (or one zip) to hand in.

One folder per slot with mail counted for it, named "2023-05 县林业局": every counted mail's
files under their original names (made safe and unique in the folder), the write-up when it
was the mail body (活动信息（邮件正文）.txt), and 说明.txt (登记编号, sender, received, subject,
files, cloud links). The workbook sits at the top and links each row to its folder.

Everything streams: stored files are copied in chunks, the zip is written to any binary
file object (seekable or not: a web response will do), so memory stays flat for a year of
photos. Names come from `intake.store.safe_name` and a fixed pattern; nothing a mail names
ever becomes a path outside the target, and every target path is checked to be inside it.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.completeness import own_body_text
from intake.store import AttachmentStore, StorePathError, safe_name
from tracker.bodytext import mail_text
from tracker.export import SlotRow, YearRecord, collect, write_xlsx
from tracker.models import Attachment, Message
from tracker.references import reference
from tracker.roster import Campaign

CHUNK = 1024 * 1024
NOTE_NAME = "说明.txt"
BODY_WRITEUP_NAME = "活动信息（邮件正文）.txt"
STORED_TYPES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".zip", ".rar",
                ".7z", ".mp4", ".mov", ".docx", ".xlsx", ".pptx")  # fmt: skip


class EvidenceError(Exception):
    """The evidence cannot be written where asked: one readable line."""


@dataclass(frozen=True)
class Entry:
    """One file of the bundle: stored bytes (`source`) or made here (`data`)."""

    arcname: str  # POSIX, relative: "2023-05 县林业局/活动现场1.jpg"
    source: Path | None = None
    data: bytes | None = None


@dataclass
class Bundle:
    workbook_name: str
    workbook: bytes
    entries: list[Entry]
    folders: dict[int, str]  # slot id -> folder name


def folder_name(row: SlotRow) -> str:
    return _component(f"{row.period} {row.unit}", "单位")


def _component(name: str, fallback: str) -> str:
    """One safe path component (no separators, no dot names, no controls)."""
    cleaned = safe_name(name.replace("/", "／").replace("\\", "＼"))
    cleaned = cleaned.strip().strip(".") or fallback
    return cleaned


class Names(set[str]):
    """The names taken in one folder (lower case), with the next number to try for each
    name asked twice, so that 30,000 files all called a.txt cost linear time, not square."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        super().__init__(names)
        self.next: dict[str, int] = {}


def _unique(name: str, taken: Names) -> str:
    """`name`, or "stem (2).ext" ... so that no two files of a folder share a name (the
    check ignores case: Windows and macOS would)."""
    if name.lower() not in taken:
        taken.add(name.lower())
        return name
    path = PurePosixPath(name)
    stem, suffix = (path.stem, path.suffix) if path.suffix else (name, "")
    n = taken.next.get(name.lower(), 2)
    while f"{stem} ({n}){suffix}".lower() in taken:
        n += 1
    taken.next[name.lower()] = n + 1
    out = f"{stem} ({n}){suffix}"
    taken.add(out.lower())
    return out


def build_bundle(
    s: Session,
    store: AttachmentStore,
    *,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    campaign: Campaign | None = None,
    campaigns: Collection[str] | None = None,
) -> Bundle:
    """The workbook (with folder links) and the list of files; reads the database once
    per kind of row, never per slot."""
    record: YearRecord = collect(
        s, year=year, as_of=as_of, tz=tz, campaign=campaign, campaigns=campaigns
    )
    rows = [r for r in record.rows if r.message_ids]
    ids = sorted({m for r in rows for m in r.message_ids})
    atts: dict[int, list[Attachment]] = {}
    msgs: dict[int, Message] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for a in s.scalars(
            select(Attachment).where(Attachment.message_id.in_(chunk)).order_by(Attachment.id)
        ):
            atts.setdefault(a.message_id, []).append(a)
        for m in s.scalars(select(Message).where(Message.id.in_(chunk))):
            msgs[m.id] = m
    entries: list[Entry] = []
    folders: dict[int, str] = {}
    used_folders = Names()
    for r in rows:
        folder = _unique(folder_name(r), used_folders)
        folders[r.slot_id] = folder
        taken = Names([NOTE_NAME.lower()])
        lines = [
            f"单位：{r.unit}（{r.kind_label}）",
            f"月份：{r.period}　状态：{r.state_label}",
            f"材料：图片 {r.photos} 张；文字材料：{r.writeup_label}；{r.materials_label}",
            "",
        ]
        for mid in r.message_ids:
            msg = msgs[mid]
            local = msg.received_at.astimezone(tz)
            sender = f"{msg.from_name} <{msg.from_addr}>" if msg.from_name else msg.from_addr
            lines += [
                f"登记编号：{reference(mid, campaign)}",
                f"发件人：{sender or '（无）'}",
                f"收到时间：{local.strftime('%Y-%m-%d %H:%M')}",
                f"主题：{msg.subject or '（无主题）'}",
            ]
            for a in atts.get(mid, []):
                if a.kind == "link":
                    expires = (
                        a.expires_at.astimezone(tz).strftime("%Y-%m-%d") if a.expires_at else ""
                    )
                    lines.append(
                        f"  超大附件（未下载）：{a.filename or a.safe_name} {a.url or ''}"
                        + (f"（{expires} 到期）" if expires else "")
                    )
                    continue
                if not a.relpath:
                    lines.append(f"  未保存：{a.filename or a.safe_name}（{a.error or '无内容'}）")
                    continue
                try:
                    source = store.open_path(a.relpath)
                except StorePathError:
                    continue
                name = _unique(_component(a.safe_name or a.filename, "附件"), taken)
                entries.append(Entry(f"{folder}/{name}", source=source))
                shot = f"（拍摄于{a.taken_on.isoformat()}）" if a.taken_on else ""
                lines.append(f"  文件：{name}{shot}")
            if msg.writeup == "正文":
                body = _body_text(store, msg)
                if body:
                    name = _unique(BODY_WRITEUP_NAME, taken)
                    entries.append(Entry(f"{folder}/{name}", data=body.encode("utf-8")))
                    lines.append(f"  文字材料（邮件正文）：{name}")
            lines.append("")
        note = "\r\n".join(lines).encode("utf-8-sig")  # Notepad on old Windows reads it
        entries.append(Entry(f"{folder}/{NOTE_NAME}", data=note))
    buf = io.BytesIO()
    write_xlsx(record, buf, folders={k: v + "/" for k, v in folders.items()})
    name = _component(f"{campaign.name if campaign else year}报送情况.xlsx", "报送情况.xlsx")
    if not name.startswith(str(year)):
        name = f"{year}年{name}"
    return Bundle(name, buf.getvalue(), entries, folders)


def _body_text(store: AttachmentStore, msg: Message) -> str:
    if not msg.raw_path:
        return ""
    path = msg.raw_path

    def read() -> bytes:
        try:
            return store.open_path(path).read_bytes()
        except StorePathError as exc:
            raise OSError(str(exc)) from None

    text = mail_text(read, reasons=msg.reasons)
    return own_body_text(text).strip() + "\n" if text else ""


def _inside(root: Path, arcname: str) -> Path:
    target = (root / arcname).resolve()
    if target == root or not target.is_relative_to(root):
        raise EvidenceError(f"{arcname}: would leave {root}")  # cannot happen: names are safe
    return target


def write_folders(bundle: Bundle, target: Path) -> int:
    """Write the bundle under `target` (new or empty); returns the files written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise EvidenceError(f"{target}: exists and is not an empty folder")
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    _inside(root, bundle.workbook_name).write_bytes(bundle.workbook)
    for folder in bundle.folders.values():
        _inside(root, folder).mkdir(exist_ok=True)
    for e in bundle.entries:
        path = _inside(root, e.arcname)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as out:
            _copy(e, out)
    return len(bundle.entries) + 1


def write_zip(bundle: Bundle, out: IO[bytes]) -> int:
    """Write the bundle as one zip to `out` (any writable binary file object, seekable or
    not), streaming the stored files; returns the files written."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        zf.writestr(bundle.workbook_name, bundle.workbook)
        for folder in bundle.folders.values():
            zf.writestr(zipfile.ZipInfo(folder + "/"), b"")
        for e in bundle.entries:
            info = zipfile.ZipInfo(e.arcname, date_time=(2000, 1, 1, 0, 0, 0))
            lower = e.arcname.lower()
            info.compress_type = (
                zipfile.ZIP_STORED if lower.endswith(STORED_TYPES) else zipfile.ZIP_DEFLATED
            )
            with zf.open(info, "w", force_zip64=True) as dest:
                _copy(e, dest)
    return len(bundle.entries) + 1


def _copy(e: Entry, dest: IO[bytes]) -> None:
    if e.data is not None:
        dest.write(e.data)
        return
    assert e.source is not None
    with e.source.open("rb") as src:
        shutil.copyfileobj(src, dest, CHUNK)


def write_year_zip(
    s: Session,
    store: AttachmentStore,
    out: IO[bytes],
    *,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    campaign: Campaign | None = None,
    campaigns: Collection[str] | None = None,
) -> int:
    """The year's evidence as one zip written to `out` (for the board's download): the same
    content as `export --zip`. Returns the files written."""
    bundle = build_bundle(
        s, store, year=year, as_of=as_of, tz=tz, campaign=campaign, campaigns=campaigns
    )
    return write_zip(bundle, out)

"""Helpers for the outgoing-mail tests: a config on a loopback SMTP server, the example
roster in a real SQLite database, and recorded reports made directly as rows."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from tracker.config import Config, load_config
from tracker.db import Database, open_database
from tracker.models import Attachment, Message, MessageUnit, Slot, Submission, Unit
from tracker.roster import Roster, load_roster
from tracker.slots import sync_roster

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ROSTER = ROOT / "examples" / "roster.toml"
SENDER = "xtxgov@126.com"
STAFF = ("clerk@xtx.gov.cn",)
DIGEST_TO = ("boss@xtx.gov.cn", "clerk@xtx.gov.cn")


def write_config(
    tmp_path: Path,
    *,
    smtp_port: int,
    security: str = "none",
    extra: str = "",
    smtp_extra: str = "",
    roster: Path = EXAMPLE_ROSTER,
) -> Path:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "report-intake.toml"
    path.write_text(
        f"""
[office]
timezone = "Asia/Shanghai"
addresses = ["{SENDER}"]
staff = {list(STAFF)!r}

[mailbox]
type = "maildir"
path = "{maildir}"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "{security}"
from = "{SENDER}"
from_name = "湘潭县政务公开办"
timeout = 10
{smtp_extra}

[database]
url = "sqlite:///{tmp_path / "db.sqlite3"}"

[storage]
dir = "{tmp_path / "data"}"

[roster]
file = "{roster}"

[digest]
recipients = {list(DIGEST_TO)!r}
{extra}
""".replace("'", '"'),
        encoding="utf-8",
    )
    return path


@dataclass
class Env:
    config: Config
    roster: Roster
    db: Database

    def reopen(self) -> Env:
        """A new database handle on the same file, as a restarted process would have."""
        self.db.dispose()
        return Env(self.config, self.roster, open_database(self.config.database_url))


def make_env(tmp_path: Path, smtp_port: int, **kw: object) -> Env:
    config = load_config(write_config(tmp_path, smtp_port=smtp_port, **kw))  # type: ignore[arg-type]
    roster = load_roster(config.roster_file)
    db = open_database(config.database_url)
    with db.session() as s:
        sync_roster(s, roster)
    return Env(config, roster, db)


def jpeg_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def store_file(storage: Path, data: bytes, ext: str = ".jpg") -> str:
    digest = hashlib.sha256(data).hexdigest()
    rel = f"files/{digest[:2]}/{digest}{ext}"
    (storage / rel).parent.mkdir(parents=True, exist_ok=True)
    (storage / rel).write_bytes(data)
    return rel


_counter = iter(range(1, 10**6))


def record_report(
    env: Env,
    *,
    units: list[str],
    period: str,
    received_at: datetime,
    from_addr: str,
    subject: str,
    images: list[bytes] = (),  # type: ignore[assignment]
    with_thumbs: bool = False,
    links: list[dict[str, object]] = (),  # type: ignore[assignment]
    headers: dict[str, str] | None = None,
    decision: str = "matched",
    kind: str = "report",
    message_id: str | None = None,
    from_name: str = "",
) -> int:
    """A recorded message with its units, submissions and attachments, as the recorder
    would leave it; returns the message row id."""
    n = next(_counter)
    storage = env.config.storage_dir
    with env.db.session() as s:
        msg = Message(
            raw_sha256=hashlib.sha256(f"{n}-{subject}-{received_at}".encode()).hexdigest(),
            raw_path=f"raw/{n}.eml",
            source="maildir:test",
            uid=n,
            message_id=message_id or f"<report{n}@example.com>",
            from_addr=from_addr,
            from_name=from_name,
            subject=subject,
            sent_at=received_at,
            received_at=received_at,
            recorded_at=received_at,
            kind=kind,
            decision=decision,
            period=period,
            confidence=0.95,
            reasons=["主题中的单位名"],
            headers=headers or {},
        )
        s.add(msg)
        s.flush()
        for name in units:
            unit = s.scalars(select(Unit).where(Unit.name == name)).one()
            s.add(MessageUnit(message_id=msg.id, unit_id=unit.id))
            if decision == "matched":
                slot = s.scalars(
                    select(Slot).where(Slot.unit_id == unit.id, Slot.period == period)
                ).one()
                s.add(Submission(message_id=msg.id, slot_id=slot.id, created_at=received_at))
        for i, data in enumerate(images, 1):
            rel = store_file(storage, data)
            thumb = None
            if with_thumbs:
                im = Image.open(io.BytesIO(data))
                im.thumbnail((320, 320))
                buf = io.BytesIO()
                im.save(buf, "JPEG")
                thumb = store_file(storage, buf.getvalue()).replace("files/", "thumbs/")
                (storage / thumb).parent.mkdir(parents=True, exist_ok=True)
                (storage / thumb).write_bytes(buf.getvalue())
            s.add(
                Attachment(
                    message_id=msg.id,
                    kind="file",
                    filename=f"活动照片{i}.jpg",
                    safe_name=f"活动照片{i}.jpg",
                    content_type="image/jpeg",
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    relpath=rel,
                    is_image=True,
                    width=800,
                    height=600,
                    thumb_relpath=thumb,
                )
            )
        for link in links:
            s.add(Attachment(message_id=msg.id, kind="link", **link))  # type: ignore[arg-type]
        return msg.id


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A moment in Shanghai time, as an aware UTC datetime."""
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)

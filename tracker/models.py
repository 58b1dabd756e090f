"""The state of the campaign, in SQL: units, slots, messages, submissions, outbox.

Schema changes go through Alembic (tracker/migrations); `tracker.db` applies them on open.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware one")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Unit(Base):
    __tablename__ = "unit"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    central: Mapped[bool] = mapped_column(Boolean, default=False)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    addresses: Mapped[list[UnitAddress]] = relationship(back_populates="unit")
    slots: Mapped[list[Slot]] = relationship(back_populates="unit")


class UnitAddress(Base):
    """A sender address known to belong to a unit (roster, liaison form, staff, report).

    `status` is "confirmed" (roster, staff) or "learnt" (seen on a liaison form or a
    matched report: not trusted; see tracker.addressbook). `source_message_id` is the mail
    it was learnt from; deciding that mail again removes the address unless staff
    confirmed it (confirming clears the link)."""

    __tablename__ = "unit_address"
    __table_args__ = (UniqueConstraint("unit_id", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    source: Mapped[str] = mapped_column(String(20))  # roster | liaison | staff | report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="confirmed")  # confirmed|learnt|refused
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), nullable=True, index=True
    )
    confirmed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)

    unit: Mapped[Unit] = relationship(back_populates="addresses")


class Slot(Base):
    """One unit owing one report for one period of one campaign (campaign x unit x period)."""

    __tablename__ = "slot"
    __table_args__ = (UniqueConstraint("campaign", "unit_id", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    due: Mapped[date] = mapped_column(Date)
    scheduled: Mapped[bool] = mapped_column(Boolean, default=True)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    # staff moved the event from this roster month (the roster sync leaves it moved)
    moved_from: Mapped[str | None] = mapped_column(String(7), nullable=True)
    # The roster campaign's name ("" for a slot recorded before campaigns; the roster sync
    # adopts it into the campaign that schedules its unit and period).
    campaign: Mapped[str] = mapped_column(String(200), default="", server_default="", index=True)

    unit: Mapped[Unit] = relationship(back_populates="slots")
    submissions: Mapped[list[Submission]] = relationship(back_populates="slot")


class Message(Base):
    """One mail as received, kept raw; recorded exactly once (raw_sha256 is unique)."""

    __tablename__ = "message"
    id: Mapped[int] = mapped_column(primary_key=True)
    raw_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw_path: Mapped[str] = mapped_column(String(500))
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    uid: Mapped[int] = mapped_column(BigInteger, default=0)
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True, index=True)
    from_addr: Mapped[str] = mapped_column(String(320), default="", index=True)
    from_name: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(20), default="other")
    decision: Mapped[str] = mapped_column(String(20), default="review", index=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str] = mapped_column(String(20), default="auto")  # auto | staff
    parse_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What the report holds (intake.completeness); None when not assessed yet
    photos: Mapped[int | None] = mapped_column(Integer, nullable=True)
    writeup: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # The day the event was held, from a date in the text or the photos' EXIF dates
    activity_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # the sender was not among the matched unit's addresses when it came (新发件地址)
    new_sender: Mapped[bool] = mapped_column(Boolean, default=False)
    # a reply threaded to our mail (tracker.threads): the outbox row it answers, and the
    # unit's original report that thread is about (None for a reply to a reminder).
    # Plain ids, no foreign key: SQLite cannot add one to an existing table without
    # copying it (migration 0007_reply_threads); no outbox row or message is deleted.
    reply_to_outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)

    units: Mapped[list[MessageUnit]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Attachment.id"
    )


class MessageUnit(Base):
    """A unit a message reports for (several for a joint event)."""

    __tablename__ = "message_unit"
    __table_args__ = (UniqueConstraint("message_id", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)

    message: Mapped[Message] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()


class Submission(Base):
    """A message counted for a slot."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("message_id", "slot_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    message: Mapped[Message] = relationship(back_populates="submissions")
    slot: Mapped[Slot] = relationship(back_populates="submissions")


class Attachment(Base):
    """A stored file (or a cloud link, kind="link") that came with a message."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10), default="file")  # file | link
    filename: Mapped[str] = mapped_column(String(1000), default="")
    safe_name: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    relpath: Mapped[str | None] = mapped_column(String(500), nullable=True)
    is_image: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    thumb_relpath: Mapped[str | None] = mapped_column(String(500), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider: Mapped[str | None] = mapped_column(String(50), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A real photo of the event (not a logo or signature), its perceptual hash (dHash,
    # 16 hex digits) and its EXIF capture date; None when not assessed or not a photo
    photo: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    phash: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    taken_on: Mapped[date | None] = mapped_column(Date, nullable=True)

    message: Mapped[Message] = relationship(back_populates="attachments")


class PhotoBand(Base):
    """One band of a counted photo's dHash (tracker.photo_index): the index that finds
    the photos within a few bits of a new one without reading every hash."""

    __tablename__ = "photo_band"
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, primary_key=True)
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachment.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Checkpoint(Base):
    """How far a mailbox folder has been read: UIDVALIDITY and the last recorded UID."""

    __tablename__ = "checkpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500), unique=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Liaison(Base):
    """A liaison registration (annex 5 form) sent by a unit."""

    __tablename__ = "liaison"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()


class Outbox(Base):
    """An outgoing mail; the unique key makes sure it is queued (and sent) once."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    mime: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    related_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), nullable=True
    )
    slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("slot.id", ondelete="SET NULL"), nullable=True
    )
    # the Message-ID header it went out with (replies are threaded by it)
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True, index=True)


class ServiceState(Base):
    """Small named values the daemon keeps (alert state, last digest, last poll)."""

    __tablename__ = "service_state"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    """A person who logs in to the staff board: a clerk acts, a viewer only sees."""

    __tablename__ = "board_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # clerk | viewer
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Audit(Base):
    """One staff action: who, when, what, the state before and after, and a note.

    `undone_by_id` points at the audit row of the undo; an undo row has `undoes_id`.
    """

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    by: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), nullable=True, index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), nullable=True, index=True
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("audit.id"), nullable=True)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("audit.id"), nullable=True)

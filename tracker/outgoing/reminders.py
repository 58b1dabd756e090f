"""Reminders: chase the units whose report is missing, once per stage, on working days.

Stages (each switched on in `[reminders]`):
- `month_start`: at the start of the unit's month (its first working day);
- `before:N`: N days before the due date (e.g. 7 and 2);
- `overdue:N`: N days after the due date (e.g. 1 and 7).

Working days (`working_days_only`, default on; `chinese_calendar` knows the official
holidays and the swapped working weekends): a stage whose day is not a working day moves
to the previous working day for `before` stages (the unit still gets its full notice) and
to the next working day for the others (`month_start` does not go out on a holiday, an
`overdue` one never goes out before its time). On a non-working day nothing is sent.

Once per slot and stage: each recipient gets a mail of its own (one address in `To:`,
never a list of a unit's addresses) under the outbox key
`reminder:<slot_id>:<stage>:<address>`, queued together in one transaction; a stage with
any row already queued (or one of the older `reminder:<slot_id>:<stage>` rows) is done, so
it is never sent twice, across restarts. Each mail is built on its own: an address that
cannot be written into a header skips that one mail (logged, listed), not the job.

Who: the unit's confirmed addresses, or its learnt ones while it has no confirmed address
(tracker.addressbook): a fake liaison form does not add itself to the reminders.

Catching up: on a given day only the latest stage whose day has come is due; earlier
stages are skipped (superseded). A `month_start` or `before` stage is no longer useful
after the due date, and the last `overdue` stage only for `OVERDUE_WINDOW` days, so a
long downtime never ends in a burst of stale mail. Units whose slot is received, late
or excused get nothing, nor do units whose mail for it waits in review (they were told
已收到，正在核实; `tracker.review_hold`); units with no known address are listed for staff
instead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.addressbook import reminder_addresses
from tracker.clock import Clock
from tracker.config import Config, RemindersConfig
from tracker.db import Database
from tracker.models import Outbox, Slot, Unit
from tracker.outgoing.emails import base_context, recipients_of, reminder_message
from tracker.outgoing.outbox import DeliveryReport, Mailer, deliver_now, enqueue
from tracker.review_hold import held_slot_ids
from tracker.roster import Roster
from tracker.slots import period_start, slot_states

log = logging.getLogger(__name__)

OVERDUE_WINDOW = timedelta(days=14)
QUIET_STATES = ("received", "late", "excused")


@dataclass(frozen=True)
class Stage:
    name: str  # "month_start" | "before:7" | "overdue:1"
    kind: str  # "month_start" | "before" | "overdue"
    days: int


@dataclass(frozen=True)
class PlannedReminder:
    slot_id: int
    unit: str
    period: str
    due: date
    stage: str
    stage_kind: str
    day: date  # the (working) day the stage falls on
    to: tuple[str, ...]
    cc: tuple[str, ...]
    campaign: str = ""

    @property
    def key(self) -> str:
        """The stage's key; each recipient's mail is `key_for(address)`."""
        return f"reminder:{self.slot_id}:{self.stage}"

    def key_for(self, address: str) -> str:
        return f"{self.key}:{address}"

    @property
    def has_address(self) -> bool:
        return bool(self.to)


@dataclass
class RemindReport:
    as_of: date
    planned: list[PlannedReminder] = field(default_factory=list)
    queued: list[PlannedReminder] = field(default_factory=list)
    no_address: list[PlannedReminder] = field(default_factory=list)
    skipped: list[tuple[PlannedReminder, str, str]] = field(default_factory=list)  # address, why
    holiday: bool = False
    delivery: DeliveryReport | None = None


def stages(config: RemindersConfig) -> list[Stage]:
    """The configured stages in time order."""
    out = []
    if config.month_start:
        out.append(Stage("month_start", "month_start", 0))
    out += [Stage(f"before:{n}", "before", n) for n in sorted(config.days_before, reverse=True)]
    out += [Stage(f"overdue:{n}", "overdue", n) for n in sorted(config.overdue_after)]
    return out


def is_working_day(day: date) -> bool:
    """Official working day in mainland China (holidays and swapped weekends included)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # chinese_calendar has no data for that year yet
        return day.weekday() < 5


def shift_to_working_day(day: date, backwards: bool) -> date:
    step = timedelta(days=-1 if backwards else 1)
    for _ in range(31):
        if is_working_day(day):
            return day
        day += step
    return day


def stage_day(stage: Stage, period: str, due: date, working_days_only: bool) -> date:
    if stage.kind == "month_start":
        nominal = period_start(period)
    elif stage.kind == "before":
        nominal = due - timedelta(days=stage.days)
    else:
        nominal = due + timedelta(days=stage.days)
    if not working_days_only:
        return nominal
    return shift_to_working_day(nominal, backwards=stage.kind == "before")


def current_stage(
    stage_list: list[Stage], period: str, due: date, as_of: date, working_days_only: bool
) -> tuple[Stage, date] | None:
    """The latest stage whose day has come and that is still useful on `as_of`."""
    reached = [
        (s, d) for s in stage_list if (d := stage_day(s, period, due, working_days_only)) <= as_of
    ]
    if not reached:
        return None
    stage, day = max(reached, key=lambda sd: sd[1])
    if stage.kind in ("month_start", "before") and as_of > due:
        return None
    if stage.kind == "overdue" and as_of > day + OVERDUE_WINDOW:
        return None
    return stage, day


def plan_reminders(
    session: Session,
    roster: Roster,
    config: Config,
    as_of: date,
    campaigns: Collection[str] | None = None,
) -> list[PlannedReminder]:
    """The reminders due on `as_of` and not sent yet (with no address: `to` is empty)."""
    rc = config.reminders
    if not rc.enabled:
        return []
    stage_list = stages(rc)
    if not stage_list:
        return []
    active = roster.active(as_of, max(rc.overdue_after, default=0))
    if not active:
        return []  # every campaign has ended (or not begun): nothing to chase
    keys = set(campaigns) if campaigns is not None else {p.campaign.key for p in active}
    several = len(roster.parts) > 1
    roster_names = {u.name for u in roster.units}
    states = {st.slot_id: st for st in slot_states(session, as_of=as_of, tz=config.timezone)}
    slots = list(
        session.scalars(
            select(Slot)
            .join(Unit)
            .where(Slot.scheduled.is_(True), Unit.active.is_(True))
            .options(selectinload(Slot.unit).selectinload(Unit.addresses))
            .order_by(Slot.period, Slot.due, Unit.kind.desc(), Unit.id)
        )
    )
    held = held_slot_ids(
        session, slots, config.timezone
    )  # its mail waits in review: not chased meanwhile
    cc = tuple(a for a in config.staff) if rc.copy_staff else ()  # overdue notices only
    own = set(config.own_addresses)
    planned = []
    for slot in slots:
        st = states.get(slot.id)
        if st is None or st.state in QUIET_STATES or slot.unit.name not in roster_names:
            continue
        if (several or campaigns is not None) and slot.campaign not in keys:
            continue  # a campaign not active on the date (or not the one asked for)
        if slot.id in held:
            continue
        found = current_stage(stage_list, slot.period, slot.due, as_of, rc.working_days_only)
        if found is None:
            continue
        stage, day = found
        to = tuple(reminder_addresses(slot.unit.addresses, exclude=own))
        planned.append(
            PlannedReminder(
                slot_id=slot.id,
                unit=slot.unit.name,
                period=slot.period,
                due=slot.due,
                stage=stage.name,
                stage_kind=stage.kind,
                day=day,
                to=to,
                cc=tuple(a for a in cc if a not in to) if stage.kind == "overdue" else (),
                campaign=slot.campaign,
            )
        )
    if not planned:
        return []
    done = _stages_done(session, {p.slot_id for p in planned})
    return [p for p in planned if p.key not in done]


def _stages_done(session: Session, slot_ids: set[int]) -> set[str]:
    """The `reminder:<slot>:<stage>` keys with a mail queued (to any recipient)."""
    keys = session.scalars(
        select(Outbox.key).where(Outbox.kind == "reminder", Outbox.slot_id.in_(slot_ids))
    )
    out = set()
    for key in keys:  # reminder:<slot>:month_start[:<addr>], reminder:<slot>:before:7[:<addr>]
        parts = key.split(":")
        if len(parts) >= 3 and parts[0] == "reminder":
            out.add(":".join(parts[:3] if parts[2] == "month_start" else parts[:4]))
    return out


def reminder_context(
    config: Config, roster: Roster, p: PlannedReminder, as_of: date
) -> dict[str, object]:
    part = roster.part(p.campaign) if p.campaign else None
    camp = part.campaign if part is not None else roster.campaign
    ctx = base_context(config, camp)
    ctx.update(
        unit=p.unit,
        period=p.period,
        due=p.due,
        stage=p.stage,
        days_left=max(0, (p.due - as_of).days),
        days_overdue=max(0, (as_of - p.due).days),
        campaign_name=camp.name,
        office=camp.office,
        mailbox=camp.mailbox or config.smtp.sender,
        contact=camp.contact,
    )
    return ctx


def queue_reminders(
    session: Session,
    roster: Roster,
    config: Config,
    clock: Clock,
    as_of: date,
    campaigns: Collection[str] | None = None,
) -> RemindReport:
    """Plan and enqueue today's reminders in `session` (no delivery)."""
    report = RemindReport(as_of)
    if config.reminders.working_days_only and not is_working_day(as_of):
        report.holiday = True
        return report
    now = clock.now()
    for p in plan_reminders(session, roster, config, as_of, campaigns):
        report.planned.append(p)
        if not p.has_address:
            report.no_address.append(p)
            continue
        ctx = reminder_context(config, roster, p, as_of)
        queued = False
        cc = p.cc
        for address in p.to:
            try:
                msg = reminder_message(
                    config, stage_kind=p.stage_kind, to=[address], cc=cc, ctx=ctx
                )
                recipients = recipients_of(msg)
            except Exception as exc:  # one bad recipient skips its own mail, not the job
                why = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("reminder %s to %r not built: %s", p.key, address[:80], why)
                report.skipped.append((p, address, why))
                continue
            if enqueue(
                session,
                key=p.key_for(address),
                kind="reminder",
                recipients=recipients,
                message=msg,
                now=now,
                slot_id=p.slot_id,
            ):
                queued = True
                cc = ()  # staff get one copy of an overdue notice, not one per address
        if queued:
            report.queued.append(p)
        else:  # every address refused: as good as none
            report.no_address.append(p)
    return report


def send_reminders(
    db: Database,
    roster: Roster,
    config: Config,
    clock: Clock,
    dry_run: bool = False,
    *,
    as_of: date | None = None,
    mailer: Mailer | None = None,
    campaigns: Collection[str] | None = None,
) -> RemindReport:
    """Queue the reminders due on `as_of` (default: today) and deliver the outbox.

    With `dry_run` nothing is written or sent: the report lists what would go out.
    """
    day = as_of or clock.today()
    if dry_run:
        with db.session() as s:
            report = RemindReport(day)
            if config.reminders.working_days_only and not is_working_day(day):
                report.holiday = True
                return report
            for p in plan_reminders(s, roster, config, day, campaigns):
                report.planned.append(p)
                (report.queued if p.has_address else report.no_address).append(p)
            s.rollback()
        return report
    with db.session() as s:
        report = queue_reminders(s, roster, config, clock, day, campaigns)
    log.info(
        "reminders %s: %d queued, %d without address",
        day,
        len(report.queued),
        len(report.no_address),
    )
    report.delivery = deliver_now(db, config.smtp, clock, mailer, kinds=("reminder",))
    return report

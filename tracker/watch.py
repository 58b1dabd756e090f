"""The service watches itself and tells staff when intake stops working.

Two conditions, each announced once by mail (through the outbox, so a mail goes out once
even across restarts and SMTP outages) and once more when it clears:

- **failing**: ``[watch] failures_before_alert`` failed polls (or logins) in a row. The
  alert names the mailbox, since when, how many tries and the last error (the error
  lines never carry a password). The recovery mail says how many mails were caught up.
- **quiet**: in a campaign month (a period some unit owes), no mail at all has been
  recorded for ``[watch] quiet_days`` days while polling works (a forwarding rule, a full
  mailbox or a spam filter can do that silently).

State lives in the ``service_state`` table (rows ``watch:poll`` and ``watch:quiet``), so a
restart neither forgets a failure streak nor alerts again. Recipients: ``[office] staff``,
else the digest recipients; with neither (or no SMTP) the alert is only logged.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.clock import Clock
from tracker.config import Config
from tracker.db import Database
from tracker.models import Message, ServiceState
from tracker.outgoing.emails import (
    Rendered,
    alert_message,
    base_context,
    build_message,
    period_label,
)
from tracker.outgoing.outbox import enqueue
from tracker.roster import Roster
from tracker.slots import period_start

log = logging.getLogger(__name__)

POLL_STATE = "watch:poll"
QUIET_STATE = "watch:quiet"
ALERT_KIND = "alert"


@dataclass(frozen=True)
class PollHealth:
    failures: int
    since: datetime | None
    last_error: str | None
    alerted: bool


def mailbox_label(config: Config) -> str:
    mb = config.mailbox
    if mb.type == "maildir":
        return f"maildir {mb.path}"
    return f"{mb.username}（{mb.host}:{mb.port} {mb.folder}）"


class Watch:
    def __init__(self, db: Database, config: Config, roster: Roster, clock: Clock) -> None:
        self.db = db
        self.config = config
        self.roster = roster
        self.clock = clock

    # -- helpers ---------------------------------------------------------------------------
    @property
    def recipients(self) -> tuple[str, ...]:
        return self.config.staff or self.config.digest.recipients

    def _can_mail(self) -> bool:
        return bool(self.recipients) and self.config.smtp.configured

    def _scrub(self, text: str) -> str:
        for secret in (self.config.mailbox.password, self.config.smtp.password):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text[:500]

    def _local(self, dt: datetime) -> str:
        return dt.astimezone(self.config.timezone).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def _load(s: Session, name: str) -> dict[str, Any]:
        row = s.get(ServiceState, name)
        return dict(row.value) if row is not None else {}

    @staticmethod
    def _save(s: Session, name: str, value: dict[str, Any], now: datetime) -> None:
        row = s.get(ServiceState, name)
        if row is None:
            s.add(ServiceState(name=name, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now

    def _queue(self, s: Session, key: str, rendered_or_msg: Any, now: datetime) -> bool:
        queued = enqueue(
            s,
            key=key,
            kind=ALERT_KIND,
            recipients=list(self.recipients),
            message=rendered_or_msg,
            now=now,
        )
        return queued

    # -- failing polls ---------------------------------------------------------------------
    def health(self) -> PollHealth:
        with self.db.session() as s:
            st = self._load(s, POLL_STATE)
        since = datetime.fromisoformat(st["since"]) if st.get("since") else None
        return PollHealth(
            int(st.get("failures", 0)), since, st.get("last_error"), bool(st.get("alerted"))
        )

    def poll_failed(self, error: str) -> bool:
        """Count one failed poll; True when this queued the alert mail."""
        now = self.clock.now()
        threshold = self.config.watch.failures_before_alert
        with self.db.session() as s:
            st = self._load(s, POLL_STATE)
            failures = int(st.get("failures", 0)) + 1
            since = st.get("since") or now.isoformat()
            st.update(failures=failures, since=since, last_error=self._scrub(error))
            queued = False
            if failures >= threshold and not st.get("alerted"):
                if self._can_mail():
                    ctx = {
                        **base_context(self.config, self.roster.campaign),
                        "source": mailbox_label(self.config),
                        "since": self._local(datetime.fromisoformat(since)),
                        "failures": failures,
                        "last_error": st["last_error"],
                    }
                    msg = alert_message(self.config, to=self.recipients, recovered=False, ctx=ctx)
                    queued = self._queue(s, f"alert:poll:{since}", msg, now)
                    st["alerted"] = True
                    log.error(
                        "intake failed %d times in a row since %s: alert mailed to %s",
                        failures,
                        ctx["since"],
                        ", ".join(self.recipients),
                    )
                elif failures == threshold:
                    log.error(
                        "intake failed %d times in a row; no staff to alert "
                        "(set [office] staff and [smtp])",
                        failures,
                    )
            self._save(s, POLL_STATE, st, now)
        return queued

    def poll_succeeded(self, recorded: int = 0) -> bool:
        """A poll worked: end a failure streak; True when this queued the recovery mail."""
        now = self.clock.now()
        with self.db.session() as s:
            st = self._load(s, POLL_STATE)
            if not st.get("failures") and not st.get("alerted"):
                return False
            queued = False
            if st.get("alerted") and self._can_mail():
                since = str(st.get("since") or now.isoformat())
                ctx = {
                    **base_context(self.config, self.roster.campaign),
                    "source": mailbox_label(self.config),
                    "since": self._local(datetime.fromisoformat(since)),
                    "failures": int(st.get("failures", 0)),
                    "last_error": st.get("last_error") or "",
                    "recovered_at": self._local(now),
                    "caught_up": recorded,
                }
                msg = alert_message(self.config, to=self.recipients, recovered=True, ctx=ctx)
                queued = self._queue(s, f"alert-recovered:poll:{since}", msg, now)
                log.info("intake works again after %d failed tries", ctx["failures"])
            self._save(s, POLL_STATE, {"failures": 0}, now)
        return queued

    # -- quiet mailbox ---------------------------------------------------------------------
    def check_quiet(self) -> bool:
        """Alert (once) when a campaign month has had no mail for quiet_days; announce
        when mail comes again. True when a mail was queued."""
        now = self.clock.now()
        tz = self.config.timezone
        period = now.strftime("%Y-%m")
        with self.db.session() as s:
            st = self._load(s, QUIET_STATE)
            last = s.scalar(select(func.max(Message.recorded_at)))
            if st.get("alerted"):
                alerted_at = datetime.fromisoformat(st["alerted_at"])
                if last is not None and last > alerted_at:
                    queued = self._quiet_mail(s, st, now, recovered=True)
                    self._save(s, QUIET_STATE, {}, now)
                    return queued
                return False
            if period not in self.roster.periods():
                return False
            if self.health().failures:
                return False  # failing polls explain the silence, and have their own alert
            start = datetime.combine(period_start(period), time(0), tzinfo=tz)
            ref = max(last.astimezone(tz), start) if last is not None else start
            days = (now - ref).days
            if days < self.config.watch.quiet_days:
                return False
            st = {
                "period": period,
                "since": ref.isoformat(),
                "days": days,
                "alerted": True,
                "alerted_at": now.isoformat(),
            }
            queued = self._quiet_mail(s, st, now, recovered=False)
            self._save(s, QUIET_STATE, st, now)
            log.warning("no mail for %d days in campaign month %s", days, period)
            return queued

    def _quiet_mail(self, s: Session, st: dict[str, Any], now: datetime, recovered: bool) -> bool:
        if not self._can_mail():
            return False
        since = datetime.fromisoformat(st["since"])
        rendered = quiet_rendered(
            source=mailbox_label(self.config),
            period=str(st["period"]),
            since=self._local(since),
            days=int(st["days"]),
            sender_name=base_context(self.config)["sender_name"],
            recovered_at=self._local(now) if recovered else None,
        )
        headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
        msg = build_message(self.config, to=self.recipients, rendered=rendered, headers=headers)
        prefix = "alert-recovered" if recovered else "alert"
        return self._queue(s, f"{prefix}:quiet:{st['period']}:{st['since']}", msg, now)


def quiet_rendered(
    *,
    source: str,
    period: str,
    since: str,
    days: int,
    sender_name: str,
    recovered_at: str | None,
) -> Rendered:
    """The quiet-mailbox alert (or its all-clear), in simplified Chinese."""
    month = period_label(period)
    if recovered_at is None:
        subject = f"【系统提醒】报送邮箱已连续{days}天未收到邮件"
        lines = [
            "各位同事：",
            "",
            f"{month}是报送月份，但报送邮箱 {source} 自{since}起已连续{days}天没有收到任何邮件。",
            "系统收件正常，可能是邮件被拦截、转发或收信规则被修改、邮箱已满。",
            "请登录邮箱网页端检查收件箱、垃圾邮件和收信规则。",
        ]
    else:
        subject = "【系统恢复】报送邮箱重新收到邮件"
        lines = [
            "各位同事：",
            "",
            f"报送邮箱 {source} 已于{recovered_at}重新收到邮件（自{since}起曾无来信）。",
        ]
    text = "\n".join([*lines, "", sender_name, ""])
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    page = f"<html><body>{body}<p>{html.escape(sender_name)}</p></body></html>"
    return Rendered(subject, text, page)

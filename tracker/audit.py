"""The audit trail of staff actions: one row per action, with the state before and after.

Staff actions (`tracker.staff`) write a row here in the same transaction as the change;
`tracker.staff.undo` reads it back. The state snapshots are plain JSON so that an undo can
restore exactly what was there, and so `/history` and `audit --json` can show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Audit, Liaison, Message

ACTION_LABELS = {
    "assign": "指定单位和月份",
    "ignore": "确认非报送",
    "unassign": "撤销处理，退回待核",
    "excuse": "免报",
    "unexcuse": "取消免报",
    "reschedule": "调整活动月份",
    "remember_sender": "记住发件地址",
    "add_address": "添加地址",
    "confirm_address": "确认地址",
    "remove_address": "删除地址",
    "undo": "撤销",
}
DECISION_LABELS = {"matched": "已匹配", "review": "待核", "ignored": "已忽略"}
KIND_LABELS = {"report": "报送", "liaison": "联络员回执", "other": "其他"}


def record(
    s: Session,
    *,
    by: str,
    action: str,
    now: datetime,
    summary: str,
    before: dict[str, Any],
    after: dict[str, Any],
    note: str = "",
    message_id: int | None = None,
    unit_id: int | None = None,
    undoes: Audit | None = None,
) -> Audit:
    row = Audit(
        at=now,
        by=(by or "unknown")[:100],
        action=action,
        message_id=message_id,
        unit_id=unit_id,
        summary=summary,
        before=before,
        after=after,
        note=note,
        undoes_id=undoes.id if undoes is not None else None,
    )
    s.add(row)
    s.flush()
    if undoes is not None:
        undoes.undone_by_id = row.id
    return row


def message_state(s: Session, msg: Message) -> dict[str, Any]:
    """What a staff decision changes on a message, as JSON."""
    s.flush()
    s.refresh(msg, ["units", "submissions"])
    liaisons = s.scalars(select(Liaison).where(Liaison.message_id == msg.id).order_by(Liaison.id))
    return {
        "kind": msg.kind,
        "decision": msg.decision,
        "period": msg.period,
        "units": [mu.unit.name for mu in msg.units],
        "confidence": msg.confidence,
        "reasons": list(msg.reasons or []),
        "decided_by": msg.decided_by,
        "liaison": [{"unit": lia.unit.name, "fields": dict(lia.fields or {})} for lia in liaisons],
        # the campaigns its slots belong to, so that an undo puts it back in the same one
        "campaigns": sorted({sub.slot.campaign for sub in msg.submissions}),
    }


def same_message_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("kind", "decision", "period", "decided_by")
    return all(a.get(k) == b.get(k) for k in keys) and sorted(a.get("units", [])) == sorted(
        b.get("units", [])
    )


def describe_message_state(state: dict[str, Any]) -> str:
    """One line in Chinese: 已匹配 报送 县林业局 2023-05."""
    if not state:
        return "-"
    parts = [DECISION_LABELS.get(state.get("decision", ""), state.get("decision", ""))]
    if state.get("decision") == "matched":
        parts.append(KIND_LABELS.get(state.get("kind", ""), state.get("kind", "")))
    units = "、".join(state.get("units") or [])
    if units:
        parts.append(units)
    if state.get("period"):
        parts.append(str(state["period"]))
    return " ".join(parts)


def history(
    s: Session, *, message_id: int | None = None, unit_id: int | None = None, limit: int = 200
) -> list[Audit]:
    q = select(Audit).order_by(Audit.id.desc()).limit(limit)
    if message_id is not None:
        q = q.where(Audit.message_id == message_id)
    if unit_id is not None:
        q = q.where(Audit.unit_id == unit_id)
    return list(s.scalars(q))

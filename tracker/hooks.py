"""What happens right after a message is recorded, in the same transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from tracker.clock import Clock
from tracker.models import Message
from tracker.recording import OnRecorded

if TYPE_CHECKING:
    from tracker.app import App


def receipt_hook(app: App, clock: Clock | None = None) -> OnRecorded | None:
    """Answer what was recorded (a matched report's receipt, the 已收到，正在核实 note for
    mail in review; when receipts are on) and send the notices about reports from a new
    sender address (tracker.senders), when SMTP is configured."""
    if not app.config.smtp.configured:
        return None
    from tracker.outgoing.receipts import answer
    from tracker.senders import queue_sender_notices

    use = clock or app.clock()
    campaign = app.roster.campaign
    receipts = app.config.receipts.enabled

    def hook(session: Session, msg: Message) -> None:
        if receipts:
            answer(session, msg, app.config, use, campaign=campaign)
        queue_sender_notices(session, msg, app.config, use, campaign=campaign)

    return hook

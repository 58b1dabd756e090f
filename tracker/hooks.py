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
    """Queue a receipt for every matched report, when receipts and SMTP are configured."""
    if not (app.config.receipts.enabled and app.config.smtp.configured):
        return None
    from tracker.outgoing.receipts import queue_receipt

    use = clock or app.clock()
    campaign = app.roster.campaign

    def hook(session: Session, msg: Message) -> None:
        queue_receipt(session, msg, app.config, use, campaign=campaign)

    return hook

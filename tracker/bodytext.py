"""A recorded mail's own text, read again from its raw copy for the board and the evidence
export, under the same kind of bound as the intake's analysis (tracker.bounded): a mail
built to make the parser slow or greedy cannot freeze a page or an export. A mail whose
analysis already ran out of its budget at intake is not parsed again at all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tracker.bounded import run_bounded

log = logging.getLogger(__name__)

# The reasons tracker.recording gives a mail kept raw because its analysis failed.
GAVE_UP = ("邮件分析超时", "邮件分析超出资源限制")
READ_SECONDS = 10.0
READ_MEMORY = 512 * 1024 * 1024
TEXT_LIMIT = 200_000  # characters sent back from the child: more than any page shows


def gave_up(reasons: Sequence[str] | None) -> bool:
    """Whether the intake kept this mail raw because analysing it ran out of budget."""
    return any(r.startswith(GAVE_UP) for r in reasons or ())


def _text(raw: bytes) -> str:
    from intake.parsing import UnparseableMail, parse_message
    from intake.text import html_to_text

    try:
        parsed = parse_message(raw)
    except UnparseableMail:
        return ""
    text = parsed.text if parsed.text.strip() else html_to_text(parsed.html or "")
    return text[:TEXT_LIMIT]


def mail_text(
    read: Callable[[], bytes],
    *,
    reasons: Sequence[str] | None = None,
    seconds: float = READ_SECONDS,
    memory_bytes: int | None = READ_MEMORY,
) -> str | None:
    """The mail's plain text (else its HTML's visible text), or None when it cannot be
    read within the bound (or the intake already gave up on it)."""
    if gave_up(reasons):
        return None
    try:
        raw = read()
    except OSError:
        return None
    outcome = run_bounded(lambda: _text(raw), seconds=seconds, memory_bytes=memory_bytes)
    if outcome.value is None:
        if outcome.failure:
            log.warning("mail text not read: %s", outcome.failure)
        return None
    return outcome.value

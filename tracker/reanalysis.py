"""Analysing a recorded message again from its raw copy, for `rematch`, under the same
budget as the intake's analysis (`[mailbox] analysis_seconds`, `analysis_memory_mb`).

The work runs in a `tracker.workers.BoundedWorker` process, as `poll` runs it: the raw
copy is read there, parsed and matched (`tracker.recording.analyse`), and the stored
attachments' photos are assessed (`tracker.evidence.assess_files`). A mail that runs past
the budget, or kills its process, comes back as a failure in one line and the caller
goes on with the next; nothing it holds can stall or exhaust the command itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from intake.matching import Jurisdiction, UnitRef
from tracker.evidence import PhotoAssessment, assess_files
from tracker.models import Attachment
from tracker.recording import Analysis, analyse, packed, unpacked
from tracker.workers import BoundedWorker

# The columns of a stored attachment that the photo assessment reads.
FACT_COLUMNS = (
    "filename",
    "safe_name",
    "content_type",
    "size",
    "width",
    "height",
    "is_image",
    "error",
    "phash",
)


@dataclass
class Request:
    """One message to analyse again: where its raw copy is, when it arrived, and its
    stored file attachments in id order (their facts, as `FACT_COLUMNS`)."""

    message_id: int
    raw_path: str
    received_at: datetime
    files: tuple[tuple[int, dict[str, Any]], ...] = ()


@dataclass
class Reanalysis:
    """What came back: the analysis, the photo assessment of the stored files (None when
    the mail did not parse), and those files' ids (to check they are still the same)."""

    analysis: Analysis
    assessment: PhotoAssessment | None
    file_ids: tuple[int, ...]


@dataclass
class Failure:
    message_id: int
    reason: str


def _work(
    root: Path,
    units: Sequence[UnitRef],
    own_addresses: Sequence[str],
    jurisdiction: Jurisdiction | None,
    request: Request,
) -> Reanalysis:
    """In the worker process."""
    raw = (root / request.raw_path).read_bytes()
    analysis = analyse(
        raw,
        units,
        received_at=request.received_at,
        own_addresses=own_addresses,
        jurisdiction=jurisdiction,
    )
    del raw
    assessment = None
    if analysis.parsed is not None:
        stored = [Attachment(id=i, **facts) for i, facts in request.files]
        assessment = assess_files(stored, analysis.parsed, analysis.reading)
    return Reanalysis(packed(analysis), assessment, tuple(i for i, _ in request.files))


class Reanalyser:
    """One worker process (forked on first use) analysing message after message."""

    def __init__(
        self,
        storage_dir: Path,
        units: Sequence[UnitRef],
        *,
        own_addresses: Sequence[str] = (),
        jurisdiction: Jurisdiction | None = None,
        seconds: float = 60.0,
        memory_bytes: int | None = 1024 * 1024 * 1024,
    ) -> None:
        from tracker.recording import _warm_up

        # built here once, so that each (re)forked worker inherits the matcher's index
        _warm_up(units, jurisdiction)
        self.seconds = seconds
        self._worker = BoundedWorker(
            functools.partial(
                _work, Path(storage_dir), tuple(units), tuple(own_addresses), jurisdiction
            ),
            seconds=seconds,
            memory_bytes=memory_bytes,
        )

    def run(self, request: Request) -> Reanalysis | Failure:
        outcome = self._worker.run(request)
        if outcome.value is None:
            return Failure(request.message_id, _one_line(outcome.failure or "analysis failed"))
        result: Reanalysis = outcome.value
        result.analysis = unpacked(result.analysis)
        return result

    def run_page(self, requests: Sequence[Request]) -> list[Reanalysis | Failure | None]:
        """Each request in turn; None for one with no raw copy to read (kept as it is)."""
        return [self.run(r) if r.raw_path else None for r in requests]

    def close(self) -> None:
        self._worker.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]

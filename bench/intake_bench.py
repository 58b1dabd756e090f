"""How fast one intake pass records mail, beside a plain baseline in the same run.

Writes N sample mails (the demo's, repeated with unique headers) into a Maildir, then times
(a) the baseline: read every file and hash it, and (b) the real pipeline: Recorder.poll_once
over the Maildir into a fresh SQLite database (parse, match, store attachments and
thumbnails, record). Prints both. Nothing is asserted.

    .venv/bin/python bench/intake_bench.py [N]
"""

from __future__ import annotations

import hashlib
import mailbox
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from intake.mailbox import MaildirSource
from intake.store import AttachmentStore
from tracker.clock import FixedClock
from tracker.db import open_database
from tracker.recording import Recorder
from tracker.roster import load_roster
from tracker.samples import build_samples
from tracker.slots import sync_roster

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"


def main(n: int) -> None:
    samples = [raw for _, _, raw in build_samples()]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        box = mailbox.Maildir(str(root / "Maildir"), create=True)
        total = 0
        for i in range(n):
            raw = f"X-Bench-Serial: {i}\n".encode() + samples[i % len(samples)]
            box.add(raw)
            total += len(raw)

        t0 = time.perf_counter()
        for path in (root / "Maildir" / "new").iterdir():
            hashlib.sha256(path.read_bytes()).hexdigest()
        baseline = time.perf_counter() - t0

        db = open_database(f"sqlite:///{root}/bench.sqlite3")
        roster = load_roster(ROSTER)
        with db.session() as s:
            sync_roster(s, roster)
        recorder = Recorder(
            db,
            AttachmentStore(root / "store"),
            roster,
            FixedClock(datetime(2023, 6, 30, tzinfo=UTC)),
            batch_size=100,
        )
        t0 = time.perf_counter()
        report = recorder.poll_once(MaildirSource(root / "Maildir", after_record="none"))
        pipeline = time.perf_counter() - t0

    mb = total / 1e6
    print(f"{n} mails, {mb:.1f} MB")
    print(f"baseline (read + sha256):  {baseline:7.2f} s  {n / baseline:8.0f} mails/s")
    print(f"intake pass (recorded {report.new}): {pipeline:7.2f} s  {n / pipeline:8.0f} mails/s")
    print(f"pipeline / baseline: {pipeline / baseline:.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)

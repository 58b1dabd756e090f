"""The evidence export streams: with a few hundred MB of photos, the peak memory of the
export process stays near that of writing the workbook alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from tests.evidence_mail import workspace
from tracker.app import App
from tracker.models import Attachment, Message, MessageUnit, Slot, Submission, Unit

FILES = 16
SIZE = 16 * 1024 * 1024  # 16 x 16 MB = 256 MB of "photos"

# Warm up (imports, database open, one small export), then reset the peak-RSS mark
# (Linux: clear_refs 5) and measure only the export asked for.
PEAK = """
import sys
from tracker.cli import main
warm, args = sys.argv[1], sys.argv[2:]
main([*args[: args.index("--as-of") + 2], "--out", warm], standalone_mode=False)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
main(args, standalone_mode=False)
with open("/proc/self/status") as fh:
    print("PEAK", next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
"""


def _peak_kb(warm: Path, args: list[str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(warm), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.rsplit("PEAK", 1)[1])


def test_memory_stays_flat_with_hundreds_of_mb_of_photos(tmp_path: Path) -> None:
    config = workspace(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", [])
    app = App.from_path(config)
    storage = app.config.storage_dir
    block = os.urandom(SIZE)  # one random block, made distinct per file by its first bytes
    when = datetime(2023, 5, 15, 2, 0, tzinfo=UTC)
    with app.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.name == "县林业局")).one()
        slot = s.scalars(select(Slot).where(Slot.unit_id == unit.id)).one()
        msg = Message(raw_sha256="m" * 64, raw_path="", source="test", from_addr="lyj@example.com",
                      subject="县林业局5月活动照片", received_at=when, recorded_at=when,
                      kind="report", decision="matched", period="2023-05", photos=FILES,
                      writeup="")  # fmt: skip
        s.add(msg)
        s.flush()
        s.add(MessageUnit(message_id=msg.id, unit_id=unit.id))
        s.add(Submission(message_id=msg.id, slot_id=slot.id, created_at=when))
        for i in range(FILES):
            head = f"\xff\xd8photo{i:04d}".encode("latin-1")
            sha = hashlib.sha256(head).hexdigest()
            rel = f"files/{sha[:2]}/{sha}.jpg"
            (storage / rel).parent.mkdir(parents=True, exist_ok=True)
            with (storage / rel).open("wb") as fh:
                fh.write(head)
                fh.write(block)
            s.add(Attachment(message_id=msg.id, kind="file", filename=f"IMG_{i:04d}.jpg",
                             safe_name=f"IMG_{i:04d}.jpg", content_type="image/jpeg",
                             size=SIZE + len(head), sha256=sha, relpath=rel, is_image=True,
                             width=4000, height=3000, photo=True))  # fmt: skip
    app.close()
    del block
    base = ["--config", str(config), "export", "--year", "2023", "--as-of", "2023-12-31"]
    baseline = _peak_kb(tmp_path / "w1.xlsx", [*base, "--out", str(tmp_path / "only.xlsx")])
    peak = _peak_kb(
        tmp_path / "w2.xlsx",
        [*base, "--files", str(tmp_path / "dir"), "--zip", str(tmp_path / "y.zip")],
    )
    written = sum(p.stat().st_size for p in (tmp_path / "dir").rglob("*.jpg"))
    assert written == FILES * (SIZE + 11)
    assert (tmp_path / "y.zip").stat().st_size > written
    # KiB: less than one file (a whole file read at once would show), far below the 256 MB moved
    assert peak - baseline < 12 * 1024, (baseline, peak)

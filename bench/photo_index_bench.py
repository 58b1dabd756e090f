"""How long the reused-photo check takes per new photo: the band index
(tracker.photo_index) beside the plain linear scan it replaced (read every counted hash,
compare each), on SQLite, for growing numbers of counted photos.

Run: .venv/bin/python bench/photo_index_bench.py [--sizes 1000,10000,50000]

It prints numbers; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.db import open_database
from tracker.models import Attachment, Message
from tracker.photo_index import candidate_ids, index_photos, near


def run(size: int, lookups: int = 200) -> tuple[float, float, float]:
    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{tmp}/bench.sqlite3")
        try:
            with db.session() as s:
                from datetime import UTC, datetime

                now = datetime(2023, 6, 1, tzinfo=UTC)
                msg = Message(raw_sha256="0" * 64, raw_path="r", source="bench",
                              received_at=now, recorded_at=now)  # fmt: skip
                s.add(msg)
                s.flush()
                hashes = [rng.getrandbits(64) for _ in range(size)]
                s.execute(
                    insert(Attachment),
                    [{"message_id": msg.id, "photo": True, "phash": f"{h:016x}"} for h in hashes],
                )
                index_photos(s, list(s.scalars(select(Attachment))))
                probes = [h ^ (1 << rng.randrange(64)) for h in rng.sample(hashes, lookups)]

                t0 = time.perf_counter()
                for p in probes:
                    [
                        x
                        for (x,) in s.execute(select(Attachment.phash).where(Attachment.photo))
                        if near(int(x, 16), p, 4)
                    ]
                linear = (time.perf_counter() - t0) / lookups

                t0 = time.perf_counter()
                found = 0
                for p in probes:
                    ids = candidate_ids(s, [p])
                    found += len(ids)
                    [
                        x
                        for (x,) in s.execute(
                            select(Attachment.phash).where(Attachment.id.in_(ids))
                        )
                        if near(int(x, 16), p, 4)
                    ]
                indexed = (time.perf_counter() - t0) / lookups
                return linear, indexed, found / lookups
        finally:
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    args = parser.parse_args()
    print(f"{'photos':>8} {'linear scan':>12} {'band index':>11} {'candidates':>11}")
    for size in (int(x) for x in args.sizes.split(",")):
        linear, indexed, cands = run(size)
        print(f"{size:>8} {linear * 1000:>10.2f}ms {indexed * 1000:>9.2f}ms {cands:>11.1f}")


if __name__ == "__main__":
    main()

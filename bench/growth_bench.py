"""How the commands grow with the roster and the recorded mail.

    .venv/bin/python bench/growth_bench.py [--units 47,1000,6000] [--messages 100,1000,50000]
                                           [--database-url URL] [--markdown]

For each roster size (the example roster for 47; bench/growth_roster.py's made-up province
for more: every unit owes every month) and each number of recorded messages (rows written
directly: reports spread over the slots, one in twenty in review, each with its unit and
its submission, all pointing at one real raw mail so that `rematch --all` reads and
analyses every one), it runs the real commands as a user would (`report-intake --config
... CMD`, each in its own process) and prints wall time and peak memory (max RSS of the
command's process), median of --repeat runs, and the digest's size. The first command on a
new database (migrations and the roster's first sync) is timed apart. `poll --once` reads
an empty Maildir whose checkpoint exists: what a poll that finds nothing new costs.
`rematch --all` analyses every message again (seconds per thousand): it is run only up to
--rematch-max messages. SQLite by default; --database-url postgresql://... (a database
it may empty) for PostgreSQL. --markdown prints the table for bench/README.md. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

EXAMPLE = ROOT / "tracker" / "data" / "roster.example.toml"
MAIL = ROOT / "tests" / "corpus" / "mails" / "a01-lyj-utf8.eml"
BIN = Path(sys.executable).parent / "report-intake"

COMMANDS = {
    "poll (nothing new)": ["poll", "--once"],
    "match (dry run)": ["match", str(MAIL)],
    "status --json": ["status", "--json", "--as-of", "2023-12-31"],
    "messages --json": ["messages", "--json"],
    "digest --dry-run": ["digest", "--dry-run", "--as-of", "2023-12-31", "--out", "{work}/d.html"],
    "export": ["export", "--year", "2023", "--as-of", "2023-12-31", "--out", "{work}/e.xlsx"],
    "rematch --all": ["rematch", "--all"],
}


def write_config(work: Path, roster: Path, url: str) -> Path:
    path = work / "config.toml"
    for sub in ("cur", "new", "tmp"):
        (work / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""
[office]
timezone = "Asia/Shanghai"
addresses = ["xtxgov@126.com"]
[mailbox]
type = "maildir"
path = "{work}/Maildir"
[database]
url = "{url}"
[storage]
dir = "{work}/data"
[roster]
file = "{roster}"
[digest]
recipients = ["boss@example.com"]
[smtp]
host = "127.0.0.1"
port = 9
security = "none"
from = "xtxgov@126.com"
"""
    )
    return path


def run(config: Path, args: list[str], work: Path) -> tuple[float, float, str, float]:
    """(seconds, peak MB, the output's end, CPU seconds) of one command in its own process."""
    argv = [str(BIN), "--config", str(config), *(a.format(work=work) for a in args)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    tail = b""
    for chunk in iter(lambda: proc.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
        tail = (tail + chunk)[-4096:]
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"    ! {' '.join(args)} exited {proc.returncode}: {err.strip()[-300:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024, tail.decode(errors="replace"), cpu


def add_messages(config: Path, count: int) -> None:
    """`count` matched reports as rows, spread over the roster's slots."""
    from sqlalchemy import insert, select, text

    from tracker.app import App
    from tracker.config import load_config
    from tracker.models import Message, MessageUnit, Slot, Submission

    app = App(load_config(config))
    (app.config.storage_dir / "raw").mkdir(parents=True, exist_ok=True)
    (app.config.storage_dir / "raw" / "growth.eml").write_bytes(MAIL.read_bytes())
    now = datetime(2023, 12, 1, tzinfo=UTC)
    with app.db.session() as s:
        slots = s.execute(select(Slot.id, Slot.unit_id, Slot.period)).all()
        first = (s.scalar(select(Message.id).order_by(Message.id.desc()).limit(1)) or 0) + 1
        for start in range(0, count, 5000):
            n = min(5000, count - start)
            rows, links, subs = [], [], []
            for k in range(n):
                i = first + start + k
                slot_id, unit_id, period = slots[i % len(slots)]
                received = datetime(int(period[:4]), int(period[5:]), 10, tzinfo=UTC)
                rows.append(
                    dict(
                        id=i,
                        raw_sha256=hashlib.sha256(f"growth-{i}".encode()).hexdigest(),
                        raw_path="raw/growth.eml",
                        raw_size=900_000,
                        source="maildir:growth",
                        uid=i,
                        message_id=f"<growth-{i}@example.com>",
                        from_addr=f"sender{i % 977}@example.com",
                        subject=f"第{i}份 政务公开主题日活动情况报送",
                        received_at=received + timedelta(minutes=i % 600),
                        recorded_at=now,
                        kind="report",
                        decision="matched" if i % 20 else "review",
                        period=period,
                        confidence=0.9,
                        reasons=["主题中的单位名"],
                        headers={},
                        marked_at=now,
                        photos=3,
                        writeup="活动信息.docx",
                    )
                )
                links.append(dict(message_id=i, unit_id=unit_id))
                if i % 20:
                    subs.append(dict(message_id=i, slot_id=slot_id, created_at=now))
            s.execute(insert(Message), rows)
            s.execute(insert(MessageUnit), links)
            if subs:
                s.execute(insert(Submission), subs)
    if app.config.database_url.startswith("postgresql"):
        # 50,000 rows at once, then a query a second later: without fresh statistics
        # PostgreSQL plans for empty tables (one query ran for minutes); a server whose
        # tables grew by mail has them (autovacuum analyses as they grow)
        with app.db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="47,1000,6000")
    parser.add_argument("--messages", default="100,1000,50000")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rematch-max", type=int, default=1000)
    parser.add_argument("--database-url", default="", help="a PostgreSQL database to empty")
    parser.add_argument("--only", default="", help="comma-separated command labels")
    parser.add_argument("--markdown", action="store_true", help="print the table at the end")
    args = parser.parse_args()
    from growth_roster import roster_toml

    only = [c for c in args.only.split(",") if c] or list(COMMANDS)
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"growth bench on {engine}: {os.cpu_count()} CPU(s), load "
          f"{os.getloadavg()[0]:.1f}; median of {args.repeat}; seconds / peak MB")  # fmt: skip
    (ROOT / ".bench").mkdir(exist_ok=True)
    table: list[tuple[int, int, dict[str, str]]] = []
    for units in (int(x) for x in args.units.split(",")):
        with tempfile.TemporaryDirectory(prefix="growth-", dir=ROOT / ".bench") as tmp:
            work = Path(tmp)
            roster = EXAMPLE if units == 47 else work / "roster.toml"
            if units != 47:
                roster.write_text(roster_toml(units), encoding="utf-8")
            url = args.database_url or f"sqlite:///{work}/db.sqlite3"
            if args.database_url:
                _empty_postgres(url)
            config = write_config(work, roster, url)
            first = run(config, COMMANDS["match (dry run)"], work)
            run(config, COMMANDS["poll (nothing new)"], work)  # its checkpoint row
            print(f"\n{units} units: first command on a new database {first[0]:.1f} s "
                  f"{first[1]:.0f} MB (migrations, first roster sync)", flush=True)  # fmt: skip
            have = 0
            for messages in (int(x) for x in args.messages.split(",")):
                if messages > have:
                    add_messages(config, messages - have)
                    have = messages
                cells: dict[str, str] = {"first start": f"{first[0]:.1f} s"}
                for label in only:
                    if label == "rematch --all" and messages > args.rematch_max:
                        continue
                    runs = [run(config, COMMANDS[label], work) for _ in range(args.repeat)]
                    secs = statistics.median(r[0] for r in runs)
                    cpu = statistics.median(r[3] for r in runs)
                    peak = max(r[1] for r in runs)
                    size = ""
                    if label.startswith("digest"):
                        found = re.search(r"(\d+) KB", runs[-1][2])
                        size = f" ({int(found.group(1)) / 1000:.1f} MB mail)" if found else ""
                    cells[label] = f"{secs:.1f} s ({cpu:.1f}), {peak:.0f} MB{size}"
                    print(f"  {units:>5} units {messages:>6} msgs  {label:<18} "
                          f"{secs:6.2f} s (CPU {cpu:5.2f} s) {peak:5.0f} MB{size}",
                          flush=True)  # fmt: skip
                table.append((units, messages, cells))
    if args.markdown:
        labels = ["first start", *only]
        print(f"\n{engine}\n\n| units | messages | " + " | ".join(labels) + " |")
        print("|---|---|" + "---|" * len(labels))
        for units, messages, cells in table:
            row = [cells.get(label, "—") for label in labels]
            print(f"| {units:,} | {messages:,} | " + " | ".join(row) + " |")


def _empty_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1)) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


if __name__ == "__main__":
    main()

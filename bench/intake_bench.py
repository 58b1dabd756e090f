"""The intake beside a plain floor, on real mail in a real Dovecot, in one run.

    .venv/bin/python bench/intake_bench.py [--sizes 80,400] [--rounds 3]   (or `make bench`)

Builds N report mails as units send them (three phone photos of about 0.3 MB each, real
JPEGs with EXIF, no two alike, and a .docx write-up; Chinese subject and file names), from
the example roster's units, each owing this month of this year, dated now (this month's
reports: matched, receipts queued, whatever the day it runs), appends the same mails to two
mailboxes of one Dovecot started for the run (tests/dovecot.py), then times in alternating
rounds, each in a fresh process with a fresh SQLite database and store:

- project: what `report-intake poll --once` does (App from a config file, receipts queued,
  Recorder.poll_once over IMAP): parse, match, store attachments and thumbnails, record,
  flag on the server;
- floor: plain code with the same durability: imaplib fetch in the same batches, stdlib
  email parse, each attachment and the raw mail written under its SHA-256, one SQLite row
  per mail, one filesystem sync per batch, then the batch flagged \\Seen $Recorded.

Server flags are cleared between rounds. It prints the median time of each, the ratio,
MB/s, peak memory (max RSS of the pass's process), then one profiled project pass (one
thread, no worker processes, so cProfile sees everything: slower than the timed passes)
grouped by stage. Timings on a shared machine are noisy: compare the ratio of medians taken
in the same run, and the spread is printed. Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.utils
import hashlib
import imaplib
import io
import multiprocessing as mp
import os
import pstats
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE_ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"
# The example roster moved to this month of this year (main() writes it): the mails, dated
# now, are this month's reports as a first start would find them.
ROSTER = Path(os.environ.get("BENCH_ROSTER", EXAMPLE_ROSTER))
YEAR = int(os.environ.get("BENCH_YEAR", "2023"))
BATCH = 50  # the default [mailbox] batch_size, used by both sides

# -- the mail ------------------------------------------------------------------------------

# Phone photos as they arrive by mail (the phone's "compressed" send size): about 0.3 MB.
PHOTO_SIZES = [(1920, 1440), (1440, 1920), (2048, 1536), (1920, 1080), (1600, 1200)]


def _base_photo(i: int, size: tuple[int, int]) -> bytes:
    """A JPEG that compresses like a photo: colour gradients under blurred noise, EXIF."""
    from PIL import Image

    w, h = size
    g = Image.linear_gradient("L").resize((w, h))
    r = g.rotate(90 + i * 13).resize((w, h))
    b = Image.new("L", (w, h), (i * 41) % 256)
    base = Image.merge("RGB", (g, r, b))
    noise = Image.effect_noise((w // 4, h // 4), 18 + i % 7)
    noise = noise.resize((w, h), Image.Resampling.BILINEAR).convert("RGB")
    im = Image.blend(base, noise, 0.4)
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"  # Make
    exif[0x0110] = "ELE-AL00"  # Model
    exif[0x0132] = "2023:05:16 10:00:00"
    exif[0x0112] = 6 if i % 3 == 0 else 1  # some taken upright: Orientation 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=83, exif=exif)
    return buf.getvalue()


def _photo(pool: dict[tuple[int, int], Any], n: int, size: tuple[int, int], month: int) -> bytes:
    """Photo number `n`: a base photo of that size under a coarse random pattern of its own,
    so that no two reports share a photo (the reuse check would send them to review)."""
    from PIL import Image

    rnd = random.Random(n)
    pattern = Image.new("RGB", (8, 6))
    pattern.putdata([tuple(rnd.randrange(256) for _ in range(3)) for _ in range(48)])
    pattern = pattern.resize(size, Image.Resampling.BILINEAR)
    im = Image.blend(pool[size], pattern, 0.45)
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"  # Make
    exif[0x0110] = "ELE-AL00"  # Model
    exif[0x0132] = f"{YEAR}:{month:02d}:16 10:00:00"  # taken in the month reported on
    exif[0x0112] = 6 if n % 3 == 0 else 1  # some taken upright: Orientation 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=83, exif=exif)
    return buf.getvalue()


def _docx(unit: str, month: int, serial: int) -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading(f"{unit}{month}月政务公开主题日活动开展情况", level=1)
    for k in range(6):
        doc.add_paragraph(
            f"为深入推进政务公开工作，{unit}于{YEAR}年{month}月{10 + k}日组织开展政务公开主题日活动，"
            f"邀请群众代表走进机关，现场解读惠民政策，发放宣传资料{100 + serial % 50 + k}份，"
            "收集意见建议并逐条答复。活动取得良好效果。"
        )
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def build_mails(n: int, seed: int = 7) -> list[bytes]:
    """N report mails from the example roster's units, each different from the others."""
    from tracker.roster import load_roster

    rng = random.Random(seed)
    sent = datetime.now(UTC).replace(microsecond=0)  # arriving now (INTERNALDATE)
    units = [(u.name, u.emails[0], u.months[0]) for u in load_roster(ROSTER).units if u.emails]
    from PIL import Image

    pool = {
        size: Image.open(io.BytesIO(_base_photo(i, size))).convert("RGB")
        for i, size in enumerate(PHOTO_SIZES)
    }
    mails = []
    for i in range(n):
        name, addr, period = units[i % len(units)]
        month = int(period[5:])
        msg = EmailMessage(policy=SMTP)
        msg["From"] = f'"{name}" <{addr}>'
        msg["To"] = "xtxgov@126.com"
        msg["Subject"] = f"{name}{month}月政务公开主题日活动情况报送（{i}）"
        msg["Date"] = email.utils.format_datetime(sent - timedelta(seconds=n - i))
        msg["Message-ID"] = f"<bench-{i}-{rng.getrandbits(48):x}@example.com>"
        msg.set_content(
            f"您好！\n\n{name}于{month}月开展了政务公开主题日活动，现将活动图片和信息报送如下，"
            f"请查收。\n\n{name}办公室\n联系电话：0731-5700{i % 10000:04d}\n"
        )
        for k in range(3):
            size = PHOTO_SIZES[(3 * i + k) % len(PHOTO_SIZES)]
            photo = _photo(pool, 3 * i + k, size, month)
            msg.add_attachment(
                photo,
                maintype="image",
                subtype="jpeg",
                filename=f"IMG_{YEAR}{month:02d}{k + 1}.jpg",
            )
        msg.add_attachment(
            _docx(name, month, i),
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
            filename=f"{name}主题日活动信息.docx",
        )
        mails.append(msg.as_bytes())
    return mails


# -- the mailboxes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    host: str
    port: int
    user: str
    password: str


def _login(box: Box) -> imaplib.IMAP4:
    client = imaplib.IMAP4(box.host, box.port, timeout=60)
    client.login(box.user, box.password)
    return client


def append_all(box: Box, mails: list[bytes]) -> None:
    client = _login(box)
    try:
        for raw in mails:
            typ, data = client.append("INBOX", None, None, raw)
            assert typ == "OK", data
    finally:
        client.logout()


def clear_flags(box: Box) -> None:
    client = _login(box)
    try:
        client.select("INBOX")
        client.uid("STORE", "1:*", "-FLAGS.SILENT", r"(\Seen $Recorded)")
    finally:
        client.logout()


# -- the two passes (each runs in its own fresh process) -----------------------------------


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its reaped children so far."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_mb() -> float:
    """Peak resident memory of this pass's process or of its largest worker process (the
    process's own high-water mark: ru_maxrss would carry the bench parent's over exec)."""
    hwm_kb = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm_kb = int(line.split()[1])
    workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(hwm_kb, workers_kb) / 1024


def project_pass(box: Box, work: str, profile: bool = False) -> dict[str, Any]:
    """What `report-intake poll --once` does, timed from the open app to the last flag."""
    from tracker.app import App
    from tracker.hooks import receipt_hook

    cfg = Path(work) / "config.toml"
    cfg.write_text(
        f"""
[office]
timezone = "Asia/Shanghai"
addresses = ["xtxgov@126.com"]
[mailbox]
type = "imap"
host = "{box.host}"
port = {box.port}
security = "none"
username = "{box.user}"
password = "{box.password}"
batch_size = {BATCH}
[smtp]
host = "127.0.0.1"
port = 9
security = "none"
from = "xtxgov@126.com"
[storage]
dir = "{work}/data"
[roster]
file = "{ROSTER}"
"""
    )
    app = App.from_path(cfg)
    app.db  # noqa: B018  (migrations and roster sync: start-up, not intake)
    import logging

    from tracker.recording import Recorder

    logging.basicConfig(level=logging.ERROR)  # receipts over the hourly cap say so per mail
    recorder: Recorder = app.recorder(on_recorded=receipt_hook(app))
    if profile:
        # profiled: everything in this process (no worker threads, no worker processes),
        # so that cProfile sees every stage; slower than the timed passes
        recorder.workers, recorder.analysis_seconds = 0, 0
    profiler = cProfile.Profile() if profile else None
    cpu0 = _cpu()
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    report = recorder.poll_once(app.source())
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - t0
    cpu = _cpu() - cpu0  # the worker processes are reaped when the pass ends
    app.close()
    out: dict[str, Any] = {
        "seconds": seconds,
        "cpu": cpu,
        "recorded": report.new,
        "marked": report.marked,
        "peak_mb": _peak_mb(),
    }
    if profiler:
        out["stages"] = _stages(profiler, seconds)
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(12)
        out["top"] = buf.getvalue()
    return out


def _syncfs(path: str) -> None:
    from intake.store import sync_filesystem

    sync_filesystem(Path(path))


def floor_pass(box: Box, work: str) -> dict[str, Any]:
    """Plain code: fetch, parse with the stdlib, write files under their hash, one row, flag."""
    cpu0 = _cpu()
    t0 = time.perf_counter()
    files = Path(work) / "files"
    files.mkdir()
    db = sqlite3.connect(Path(work) / "floor.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE message (id INTEGER PRIMARY KEY, sha TEXT UNIQUE, sender TEXT,"
        " subject TEXT, body TEXT, files TEXT)"
    )
    client = _login(box)
    client.select("INBOX")
    _typ, data = client.uid("SEARCH", "UID 1:*")
    uids = [int(x) for x in data[0].split()]
    recorded = 0

    def put(blob: bytes, ext: str) -> str:
        sha = hashlib.sha256(blob).hexdigest()
        path = files / f"{sha}{ext}"
        if not path.exists():
            path.write_bytes(blob)
        return sha

    for start in range(0, len(uids), BATCH):
        chunk = uids[start : start + BATCH]
        _typ, data = client.uid("FETCH", ",".join(map(str, chunk)), "(UID BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            raw = item[1]
            sha = put(raw, ".eml")
            msg = email.message_from_bytes(raw)
            subject = str(email.header.make_header(email.header.decode_header(msg["subject"])))
            body, names = "", []
            for part in msg.walk():
                if part.is_multipart():
                    continue
                payload = part.get_payload(decode=True) or b""
                if part.get_filename():
                    names.append(put(payload, Path(part.get_filename()).suffix))
                elif part.get_content_type() == "text/plain":
                    body += payload.decode(part.get_content_charset() or "utf-8", "replace")
            with db:
                db.execute(
                    "INSERT INTO message (sha, sender, subject, body, files) VALUES (?,?,?,?,?)",
                    (sha, msg["from"], subject, body, " ".join(names)),
                )
            recorded += 1
        _syncfs(str(files))
        client.uid("STORE", ",".join(map(str, chunk)), "+FLAGS.SILENT", r"(\Seen $Recorded)")
    client.logout()
    db.close()
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": _cpu() - cpu0,
        "recorded": recorded,
        "peak_mb": _peak_mb(),
    }


# Stages of the profile: the function that does each, by (file suffix, function name).
STAGES = [
    ("IMAP fetch", "intake/mailbox.py", "_fetch_bodies"),
    ("MIME parsing", "intake/parsing.py", "parse_message"),
    ("matching", "intake/matching.py", "match"),
    ("attachments + thumbnails", "intake/store.py", "put"),
    ("  of which image check + thumbnail", "intake/store.py", "_process_image"),
    ("raw copy", "intake/store.py", "put_raw"),
    ("fsync per file", "~", "<built-in method posix.fsync>"),
    ("filesystem sync per batch", "intake/store.py", "sync_filesystem"),
    ("cloud links", "intake/cloudlinks.py", "find_cloud_links"),
    ("documents read", "intake/completeness.py", "read_mail"),
    ("photos and write-up assessed", "tracker/evidence.py", "assess_files"),
    ("  of which photo hashes", "tracker/evidence.py", "photo_facts"),
    ("photo reuse check", "tracker/evidence.py", "check_photos"),
    ("receipts queued", "tracker/outgoing/receipts.py", "answer"),
    ("database writes", "sqlalchemy/orm/session.py", "commit"),
    ("marking on the server", "intake/mailbox.py", "mark_recorded"),
]


def _stages(profiler: cProfile.Profile, total: float) -> list[tuple[str, float, float]]:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for label, path, name in STAGES:
        cum = sum(
            v[3] for (file, _line, func), v in stats.items() if func == name and file.endswith(path)
        )
        rows.append((label, cum, cum / total if total else 0.0))
    return rows


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)  # type: ignore[no-any-return]


# -- the run -------------------------------------------------------------------------------


def run_size(server: Any, n: int, rounds: int, profile: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    mails = build_mails(n)
    total_mb = sum(map(len, mails)) / 1e6
    boxes = []
    for _ in range(2):
        mb = server.new_mailbox()
        box = Box(mb.host, mb.port, mb.user, mb.password)
        append_all(box, mails)
        boxes.append(box)
    del mails
    print(f"\n== {n} mails, {total_mb:.1f} MB (built and appended twice in "
          f"{time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    project, floor = [], []
    for r in range(rounds):
        order = [("project", boxes[0]), ("floor", boxes[1])]
        if r % 2:
            order.reverse()
        for side, box in order:
            clear_flags(box)
            with tempfile.TemporaryDirectory(prefix=f"bench-{side}-", dir=ROOT / ".bench") as work:
                fn = project_pass if side == "project" else floor_pass
                res = _in_child(fn, box, work)
            assert res["recorded"] == n, f"{side} recorded {res['recorded']} of {n}"
            (project if side == "project" else floor).append(res)
            print(f"  round {r + 1} {side:<7} {res['seconds']:6.2f} s  "
                  f"cpu {res['cpu']:5.2f} s  peak {res['peak_mb']:5.0f} MB  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    p = statistics.median(x["seconds"] for x in project)
    f = statistics.median(x["seconds"] for x in floor)
    out = {
        "n": n,
        "mb": total_mb,
        "project": p,
        "floor": f,
        "project_spread": (min(x["seconds"] for x in project), max(x["seconds"] for x in project)),
        "floor_spread": (min(x["seconds"] for x in floor), max(x["seconds"] for x in floor)),
        "project_cpu": statistics.median(x["cpu"] for x in project),
        "floor_cpu": statistics.median(x["cpu"] for x in floor),
        "project_peak": max(x["peak_mb"] for x in project),
        "floor_peak": max(x["peak_mb"] for x in floor),
    }
    if profile:
        clear_flags(boxes[0])
        with tempfile.TemporaryDirectory(prefix="bench-profile-", dir=ROOT / ".bench") as work:
            out["profile"] = _in_child(project_pass, boxes[0], work, True)
    return out


def report(res: dict[str, Any]) -> None:
    n, mb, p, f = res["n"], res["mb"], res["project"], res["floor"]
    print(f"\n{n} mails, {mb:.1f} MB, median of the rounds (min-max):")
    print(
        f"  project  {p:6.2f} s ({res['project_spread'][0]:.2f}-{res['project_spread'][1]:.2f})"
        f"  {mb / p:6.1f} MB/s  {n / p:6.1f} mails/s  peak {res['project_peak']:.0f} MB"
    )
    print(
        f"  floor    {f:6.2f} s ({res['floor_spread'][0]:.2f}-{res['floor_spread'][1]:.2f})"
        f"  {mb / f:6.1f} MB/s  {n / f:6.1f} mails/s  peak {res['floor_peak']:.0f} MB"
    )
    print(f"  ratio project/floor: {p / f:.2f}")  # fmt: skip
    print(f"  CPU seconds, median (the pass's process and its workers): "
          f"project {res['project_cpu']:.2f}, floor {res['floor_cpu']:.2f}")  # fmt: skip
    prof = res.get("profile")
    if prof:
        print(f"  profile of one project pass in one thread, no worker processes "
              f"({prof['seconds']:.2f} s):")  # fmt: skip
        for label, cum, share in prof["stages"]:
            print(f"    {label:<36} {cum:6.2f} s  {share:5.0%}")
        print("  top functions by own time:")
        lines = prof["top"].splitlines()
        start = next((i for i, x in enumerate(lines) if "ncalls" in x), 0)
        for line in lines[start : start + 13]:
            print("   ", line[:150])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="80,400", help="comma-separated mail counts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side and size")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled pass")
    args = parser.parse_args()
    from tests.dovecot import DovecotServer

    (ROOT / ".bench").mkdir(exist_ok=True)
    global ROSTER, YEAR
    # Every unit of the example roster owes this month of this year (the office's), so that
    # the mails, dated now, are this month's reports as a first start finds them: matched,
    # receipts queued (up to [receipts] max_per_hour), whatever the day the bench runs.
    # (With the roster's own months, a report of April received in December went to
    # review as a possibly wrong year: a mix that changed with the calendar.)
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    YEAR = local.year
    ROSTER = ROOT / ".bench" / f"roster-{YEAR}.toml"
    text = EXAMPLE_ROSTER.read_text().replace("2023", str(YEAR))
    text = re.sub(r'months = \["\d{4}-\d{2}"\]', f'months = ["{YEAR}-{local.month:02d}"]', text)
    ROSTER.write_text(text)
    os.environ["BENCH_ROSTER"], os.environ["BENCH_YEAR"] = str(ROSTER), str(YEAR)  # children
    print(f"intake bench: {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}; "
          f"{args.rounds} alternating rounds per side; batch {BATCH}")  # fmt: skip
    server = DovecotServer()
    server.start()
    results = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            results.append(run_size(server, n, args.rounds, not args.no_profile))
    finally:
        server.stop()
    for res in results:
        report(res)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} "
          "(other work on the machine adds noise to every figure)")  # fmt: skip


if __name__ == "__main__":
    main()

"""The recorder's worker processes: forked once and reused, each request under the time
budget; a request past it, or a child that dies, is answered as run_bounded answers and
the next request gets a fresh child."""

from __future__ import annotations

import os
import time

from tracker.workers import BoundedWorker


def work(request: object) -> object:
    if request == "slow":
        time.sleep(30)
    if request == "die":
        os._exit(3)
    if request == "fail":
        raise ValueError("bad input")
    return (os.getpid(), request)


def test_one_child_serves_request_after_request() -> None:
    worker = BoundedWorker(work, seconds=20)
    try:
        first = worker.run("a")
        second = worker.run(b"x" * 3_000_000)  # larger than a pipe's buffer
        assert first.value is not None and second.value is not None
        assert first.value[0] == second.value[0] != os.getpid()  # the same child, not us
        assert second.value[1] == b"x" * 3_000_000
        failed = worker.run("fail")
        assert failed.value is None and failed.failure and "ValueError: bad input" in failed.failure
        assert worker.run("b").value[0] == first.value[0]  # type: ignore[index]
    finally:
        worker.close()


def test_past_the_budget_the_child_is_killed_and_the_next_request_gets_a_new_one() -> None:
    worker = BoundedWorker(work, seconds=0.5)
    try:
        before = worker.run("a").value
        t0 = time.monotonic()
        slow = worker.run("slow")
        assert slow.timed_out and slow.value is None and time.monotonic() - t0 < 10
        after = worker.run("a").value
        assert before is not None and after is not None and after[0] != before[0]
        died = worker.run("die")
        assert died.value is None and "exit status 3" in (died.failure or "")
        assert worker.run("a").value is not None
    finally:
        worker.close()


def test_a_child_is_replaced_after_its_share_of_requests() -> None:
    worker = BoundedWorker(work, seconds=20, max_requests=2)
    try:
        pids = [worker.run(i).value[0] for i in range(5)]  # type: ignore[index]
        assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    finally:
        worker.close()


def allocate(request: object) -> object:
    if request == "grow":
        blocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]
        return len(blocks)
    return os.getpid()


def test_a_request_past_the_memory_cap_fails_and_the_next_gets_a_fresh_child() -> None:
    worker = BoundedWorker(allocate, seconds=30, memory_bytes=256 * 1024 * 1024)
    try:
        before = worker.run("a").value
        grown = worker.run("grow")
        assert grown.value is None and grown.failure == "out of memory"
        after = worker.run("a").value
        assert before is not None and after is not None and after != before
    finally:
        worker.close()


KEPT: list[bytes] = []


def keep(request: object) -> object:
    if request == "keep":
        KEPT.append(b"x" * (96 * 1024 * 1024))  # resident, and kept after the request
    return os.getpid()


def test_a_child_that_kept_much_memory_is_replaced_before_the_next_request() -> None:
    worker = BoundedWorker(keep, seconds=30, max_growth_bytes=64 * 1024 * 1024)
    try:
        first = worker.run("a").value
        assert worker.run("b").value == first  # no growth: the same child
        assert worker.run("keep").value == first
        after = worker.run("c").value
        assert after is not None and after != first
        assert worker.run("d").value == after
    finally:
        worker.close()


def _pipes_of(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return out


def test_a_worker_forked_by_another_thread_holds_none_of_this_workers_pipes(
    monkeypatch: object,
) -> None:
    """Two preparing threads start their workers at once. If the second forks while the
    first has made its pipes but not yet forked, the second child inherits the first's
    request pipe, and the first child never sees its input end: closing it waited out
    the 5 s grace at the end of every such pass. The interleaving is forced here."""
    import threading

    import tracker.workers as workers

    first_made_pipes = threading.Event()
    second_started = threading.Event()
    real_pipe = os.pipe
    main = threading.current_thread()  # the thread that starts `a`

    def pipe() -> tuple[int, int]:
        fds = real_pipe()
        if threading.current_thread() is main and not first_made_pipes.is_set():
            first_made_pipes.set()
            second_started.wait(1)  # the second worker forks now if it can
        return fds

    monkeypatch.setattr(workers.os, "pipe", pipe)  # type: ignore[attr-defined]
    a, b = BoundedWorker(work, seconds=30), BoundedWorker(work, seconds=30)

    def start_b() -> None:
        first_made_pipes.wait(5)
        b.run("b")
        second_started.set()

    other = threading.Thread(target=start_b)
    other.start()
    try:
        assert a.run("a").value[1] == "a"  # type: ignore[index]
        other.join(10)
        assert b._pid is not None and a._pid is not None
        mine = {f"pipe:[{os.fstat(fd).st_ino}]" for fd in (a._requests, a._results)}
        # b's child holds none of a's pipes: a's child sees its input end when a closes
        assert not mine & _pipes_of(b._pid)
    finally:
        a.close()
        b.close()

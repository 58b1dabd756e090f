"""Run one piece of work on untrusted input in a child process, under a time budget.

The intake analyses every mail this way: a mail whose analysis runs past the budget (a
pattern that backtracks, a parser that loops) or that exhausts the child's memory is
recorded raw with a reason and sent to review, and the poll goes on. The child is a fork
of the caller (no start-up cost, no re-import); it sends its result back pickled through
a pipe and exits with ``os._exit`` (no atexit handlers, no flushing of the parent's
buffers). Where ``fork`` does not exist the work runs in-process, unbounded.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Bounded", "memory_limit_problem", "run_bounded"]

T = TypeVar("T")
_READ = 1024 * 1024
_FORK_LOCK = threading.Lock()


@dataclass(frozen=True)
class Bounded(Generic[T]):
    """The outcome: `value` when the work finished, else `failure` (one English line)."""

    value: T | None = None
    failure: str | None = None
    timed_out: bool = False


def memory_limit_problem() -> str | None:
    """Why a child could not cap its own memory here, or None when it can.

    The cap is `setrlimit(RLIMIT_AS)`, which glibc makes as the `prlimit64` system call.
    The shipped unit allows that call (systemd 252 has it in `@default`; the unit also
    allows it by name, for systemds that count it in `@resources`). A filter that refuses
    it leaves only the unit's MemoryMax= for the whole service: the daemon warns at start.
    """
    try:
        resource.setrlimit(resource.RLIMIT_AS, resource.getrlimit(resource.RLIMIT_AS))
    except (OSError, ValueError) as exc:
        return f"setrlimit(RLIMIT_AS) refused: {exc}"
    return None


def _limit_memory(extra_bytes: int) -> None:
    """Cap the child's address space at its current size plus `extra_bytes`.

    Where the call is refused (see `memory_limit_problem`, warned at the daemon's start),
    the child runs without its own cap; MemoryMax= still bounds the service.
    """
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        limit = pages * resource.getpagesize() + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        pass


def _child(write_fd: int, work: Callable[[], T], memory_bytes: int | None) -> None:
    status = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # first in line for the OOM killer, not the service
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
        if memory_bytes:
            _limit_memory(memory_bytes)
        try:
            outcome: tuple[str, object] = ("ok", work())
        except MemoryError:
            outcome = ("error", "out of memory")
        except BaseException as exc:  # reported to the parent, which decides
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
            outcome = ("error", f"{type(exc).__name__}: {exc}{where}"[:2000])
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps(("error", f"result not transferable: {exc}"))
        view = memoryview(data)
        while view:
            written = os.write(write_fd, view[:_READ])
            view = view[written:]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def run_bounded(
    work: Callable[[], T], *, seconds: float, memory_bytes: int | None = None
) -> Bounded[T]:
    """Run `work()` in a forked child; give up after `seconds` (the child is killed)."""
    if not hasattr(os, "fork") or seconds <= 0:
        return Bounded(work())
    read_fd, write_fd = os.pipe()
    # one fork at a time: catch_warnings is not thread-safe (the recorder's workers fork)
    with _FORK_LOCK, warnings.catch_warnings():  # 3.12+ warns about fork in a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        os.close(read_fd)
        _child(write_fd, work, memory_bytes)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, _READ)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        return Bounded(failure=f"analysis ran past its budget of {seconds:g} s", timed_out=True)
    if not chunks:
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            return Bounded(failure=f"analysis died ({name}; out of memory?)")
        return Bounded(failure=f"analysis died (exit status {os.waitstatus_to_exitcode(status)})")
    try:
        kind, payload = pickle.loads(b"".join(chunks))
    except Exception as exc:
        return Bounded(failure=f"analysis result unreadable: {type(exc).__name__}")
    if kind == "ok":
        return Bounded(value=payload)
    return Bounded(failure=str(payload))

"""A forked worker process that runs the same function for request after request, each
under the time budget of `tracker.bounded`, without forking again for every request.

Forking once per mail costs as much as the work it guards (every child copies the pages
it touches of a large parent). A `BoundedWorker` is forked once, when first used, and
then takes requests through a pipe; a request that runs past its budget, or a child that
dies, gets the same answer `run_bounded` gives (the child is killed and forked afresh for
the next request), so a hostile mail still cannot stall or exhaust the intake.
Where ``fork`` does not exist (or the budget is 0) the function runs in-process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from tracker.bounded import _FORK_LOCK, Bounded, _limit_memory

_HEADER = struct.Struct("!Q")
_READ = 1024 * 1024
# The parent's ends of every worker's pipes. A child closes the ones it inherited from its
# siblings: else a sibling holding a worker's request pipe open keeps it from seeing the
# end of its input when its parent closes it.
_PARENT_FDS: set[int] = set()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view[:_READ])
        view = view[written:]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    """`size` bytes from `fd`; None at end of file; TimeoutError past `deadline`."""
    chunks: list[bytes] = []
    missing = size
    while missing:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
        chunk = os.read(fd, min(missing, _READ))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _serve(requests: int, results: int, fn: Callable[[Any], Any], memory: int | None) -> None:
    status = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # first in line for the OOM killer, not the service
        if memory:
            _limit_memory(memory)
        while True:
            header = _read_exactly(requests, _HEADER.size, None)
            if header is None:
                break  # the parent closed the pipe: done
            data = _read_exactly(requests, _HEADER.unpack(header)[0], None)
            if data is None:
                break
            fatal = False
            try:
                outcome: tuple[str, object] = ("ok", fn(pickle.loads(data)))
            except MemoryError:
                outcome, fatal = ("error", "out of memory"), True
            except BaseException as exc:  # reported to the parent, which decides
                tb = traceback.extract_tb(exc.__traceback__)
                where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
                outcome = ("error", f"{type(exc).__name__}: {exc}{where}"[:2000])
            try:
                reply = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                reply = pickle.dumps(("error", f"result not transferable: {exc}"))
            _write_all(results, reply)
            if fatal:
                break
    except BaseException:
        status = 1
    finally:
        os._exit(status)


class BoundedWorker:
    """One child process serving `fn`; not thread-safe (one per thread)."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        seconds: float,
        memory_bytes: int | None = None,
        max_requests: int = 200,
        max_growth_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.fn = fn
        self.seconds = seconds
        self.memory_bytes = memory_bytes
        # a fresh child now and then: its memory cap is set from its size at the start,
        # and a long-lived heap only grows (fragmentation)
        self.max_requests = max_requests
        # ... and one that kept much of what a large mail made it allocate (and has no cap
        # of its own where setrlimit is refused: then only MemoryMax= bounds the service)
        self.max_growth_bytes = max_growth_bytes
        self._baseline: int | None = None
        self._served = 0
        self._pid: int | None = None
        self._requests = -1
        self._results = -1

    def _start(self) -> None:
        # The pipes are made, the child forked and the child's ends closed here all under
        # the lock: a worker forked by another thread in between would inherit them, and
        # while it held this request pipe's write end this child would never see its
        # input end (closing it waited out the 5 s grace), nor this parent its death.
        with _FORK_LOCK, warnings.catch_warnings():  # 3.12+ warns about fork with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            req_r, req_w = os.pipe()
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child never returns
                for fd in (req_w, res_r, *_PARENT_FDS):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _serve(req_r, res_w, self.fn, self.memory_bytes)
            _PARENT_FDS.update((req_w, res_r))
            os.close(req_r)
            os.close(res_w)
        self._pid, self._requests, self._results = pid, req_w, res_r

    def run(self, request: Any) -> Bounded[Any]:
        if not hasattr(os, "fork") or self.seconds <= 0:
            return Bounded(self.fn(request))
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        if self._pid is not None and (self._served >= self.max_requests or self._grown()):
            self._stop(kill=False)
        if self._pid is None:
            self._start()
            self._served, self._baseline = 0, None
        self._served += 1
        deadline = time.monotonic() + self.seconds
        try:
            _write_all(self._requests, data)
            header = _read_exactly(self._results, _HEADER.size, deadline)
            reply = (
                _read_exactly(self._results, _HEADER.unpack(header)[0], deadline)
                if header is not None
                else None
            )
        except TimeoutError:
            self._stop(kill=True)
            return Bounded(
                failure=f"analysis ran past its budget of {self.seconds:g} s", timed_out=True
            )
        except OSError as exc:  # the child is gone (broken pipe)
            status = self._stop(kill=True)
            return Bounded(failure=_died(status) if status is not None else f"worker lost: {exc}")
        if reply is None:
            return Bounded(failure=_died(self._stop(kill=True)))
        try:
            kind, payload = pickle.loads(reply)
        except Exception as exc:
            self._stop(kill=True)
            return Bounded(failure=f"analysis result unreadable: {type(exc).__name__}")
        if kind == "ok":
            return Bounded(value=payload)
        if payload == "out of memory":
            self._stop(kill=True)
        return Bounded(failure=str(payload))

    def _grown(self) -> bool:
        """Whether the child holds much more memory than after its first request."""
        rss = _resident_bytes(self._pid)
        if rss is None:
            return False
        if self._baseline is None:
            self._baseline = rss
            return False
        return rss - self._baseline > self.max_growth_bytes

    def _stop(self, *, kill: bool) -> int | None:
        if self._pid is None:
            return None
        pid, self._pid = self._pid, None
        with _FORK_LOCK:
            for fd in (self._requests, self._results):
                _PARENT_FDS.discard(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)
        if not kill:  # the child ends when its input ends; a moment's grace, then SIGKILL
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return status
                time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        return status

    def close(self) -> None:
        """End the child (it exits when its request pipe closes)."""
        self._stop(kill=False)


def _resident_bytes(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _died(status: int | None) -> str:
    if status is not None and os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        if name == "SIGKILL":
            return "analysis died (SIGKILL; out of memory?)"
        return f"analysis died ({name})"
    code = os.waitstatus_to_exitcode(status) if status is not None else "?"
    return f"analysis died (exit status {code})"

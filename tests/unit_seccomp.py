"""The shipped unit's system call filter, applied to a test's child process without systemd.

systemd cannot run here (no systemd as PID 1, no user manager), so the filter is built the
way systemd builds it: the unit's `SystemCallFilter=` lines in order (an allow list first,
which also allows `@default`; `~` lines remove, later plain lines add back), the groups
expanded by `systemd-analyze syscall-filter` of the installed systemd, every other call
refused with `SystemCallErrorNumber=` (EPERM), loaded with libseccomp after
`NoNewPrivileges=yes`. The rest of the sandbox (namespaces, MemoryMax=) is not applied.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import shutil
import subprocess
from functools import cache
from pathlib import Path

PR_SET_NO_NEW_PRIVS = 38
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000


def available() -> str | None:
    """Why the filter cannot be built here, or None."""
    if shutil.which("systemd-analyze") is None:
        return "systemd-analyze is not installed (apt-get install systemd)"
    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is not installed"
    return None


@cache
def _group(name: str) -> frozenset[str]:
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= _group(item) if item.startswith("@") else {item}
    return frozenset(calls)


def _expand(items: list[str]) -> set[str]:
    calls: set[str] = set()
    for item in items:
        calls |= _group(item) if item.startswith("@") else {item}
    return calls


def allowed_calls(unit: Path, *, drop: tuple[str, ...] = ()) -> set[str]:
    """The calls the unit's filter allows (minus `drop`, to play an older systemd)."""
    allowed: set[str] | None = None
    for line in unit.read_text().splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1].strip()
        deny = value.startswith("~")
        items = value.lstrip("~").split()
        if allowed is None:
            assert not deny, "the unit's filter starts with an allow list"
            allowed = _expand(["@default", *items])
        elif deny:
            allowed -= _expand(items)
        else:
            allowed |= _expand(items)
    assert allowed is not None, "the unit has no SystemCallFilter="
    return allowed - set(drop)


def preexec(calls: set[str]):  # type: ignore[no-untyped-def]
    """A `preexec_fn` that loads the filter in the child before it runs the command."""
    names = sorted(calls)

    def load() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        lib = ctypes.CDLL(ctypes.util.find_library("seccomp"), use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                         ctypes.c_uint]  # fmt: skip
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        ctx = lib.seccomp_init(SCMP_ACT_ERRNO | errno.EPERM)
        for name in names:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0:  # unknown on this architecture: nothing to allow
                lib.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)
        if lib.seccomp_load(ctx) != 0:
            raise OSError("seccomp_load failed")

    return load

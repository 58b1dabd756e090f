"""Zip-based attachments (.docx, .xlsx, any zip) checked before a reader opens them.

A zip bomb is a few hundred kilobytes that inflate to gigabytes: python-docx and openpyxl
would hold the whole inflated XML in memory. :func:`zip_problem` refuses an archive with
too many members, a member or a total too big once inflated, or a member that inflates
far beyond its compressed size. The sizes are measured by inflating each member in small
chunks and stopping at the cap, never taken from the archive's own (forgeable) header.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["UnsafeArchive", "ZipLimits", "checked_zip", "read_member", "zip_problem"]


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 2000
    max_xml_member: int = 16 * 1024 * 1024  # one XML part (document.xml, sharedStrings.xml)
    max_member: int = 64 * 1024 * 1024  # one media part (a photo in a docx)
    max_total: int = 128 * 1024 * 1024
    max_ratio: int = 200  # inflated / compressed, for members over `ratio_floor`
    ratio_floor: int = 1024 * 1024


DEFAULT_LIMITS = ZipLimits()
_CHUNK = 256 * 1024


class UnsafeArchive(ValueError):
    """An archive refused before it is opened; the message says why, in Chinese for staff."""


def _is_xml(name: str) -> bool:
    return name.lower().endswith((".xml", ".rels", ".vml"))


def zip_problem(payload: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> str | None:
    """Why the zip in ``payload`` must not be opened (simplified Chinese), or None when safe."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            infos = zf.infolist()
            _check_count(len(infos), limits)
            total = 0
            for info in infos:
                size = 0
                for chunk in _inflated(zf, info, _cap(info.filename, limits)):
                    size += len(chunk)
                    total += len(chunk)
                    if total > limits.max_total:
                        return "压缩包解压后总量过大，未读取"
                _check_ratio(info, size, limits)
    except UnsafeArchive as exc:
        return str(exc)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        return f"压缩包损坏，未读取（{type(exc).__name__}）"
    except NotImplementedError:
        return "压缩包使用了不支持的压缩方式，未读取"
    return None


def checked_zip(payload: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> bytes:
    """``payload`` when :func:`zip_problem` finds nothing wrong; else :class:`UnsafeArchive`."""
    problem = zip_problem(payload, limits)
    if problem is not None:
        raise UnsafeArchive(problem)
    return payload


def read_member(zf: zipfile.ZipFile, name: str, limits: ZipLimits = DEFAULT_LIMITS) -> bytes:
    """One member of an opened archive, inflated in small chunks up to its cap (the same
    caps and messages as :func:`zip_problem`, for this member alone): a reader that needs
    two parts of a .docx inflates those two, not every member. :class:`UnsafeArchive`
    when the member is too big once inflated or inflates far beyond its compressed size."""
    _check_count(len(zf.infolist()), limits)
    info = zf.getinfo(name)
    data = b"".join(_inflated(zf, info, min(_cap(name, limits), limits.max_total)))
    _check_ratio(info, len(data), limits)
    return data


def _cap(name: str, limits: ZipLimits) -> int:
    return limits.max_xml_member if _is_xml(name) else limits.max_member


def _check_count(members: int, limits: ZipLimits) -> None:
    if members > limits.max_members:
        raise UnsafeArchive(f"压缩包内文件过多（{members} 个），未读取")


def _inflated(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> Iterator[bytes]:
    """A member inflated in small chunks, measured as it comes (never from its header);
    :class:`UnsafeArchive` as soon as it passes `cap`."""
    size = 0
    with zf.open(info) as member:
        while chunk := member.read(_CHUNK):
            size += len(chunk)
            if size > cap:
                raise UnsafeArchive(f"压缩包内文件解压后过大（{info.filename[:80]}），未读取")
            yield chunk


def _check_ratio(info: zipfile.ZipInfo, size: int, limits: ZipLimits) -> None:
    compressed = max(info.compress_size, 1)
    if size > limits.ratio_floor and size / compressed > limits.max_ratio:
        raise UnsafeArchive(f"压缩包压缩比异常（{size // compressed} 倍），疑似压缩炸弹，未读取")

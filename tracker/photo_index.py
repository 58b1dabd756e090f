"""Finding reused photos by index, not by reading every counted photo's hash.

A photo's 64-bit dHash is cut into `len(BANDS)` bands (multi-index hashing). Two hashes
that differ in at most `len(BANDS) - 1` bits agree exactly on at least one band
(pigeonhole), so the photos within `MAX_BITS` of a new one are among the rows of
`photo_band` that share one of its band values: an index lookup per band, then the exact
Hamming distance on those few candidates. With 5 bands of 12-13 bits a random other
photo shares a band with probability about 5/8192, so a year of a few thousand photos
gives a handful of candidates per new photo instead of all of them.

`index_photos` keeps the table in step with `attachment.phash` (called wherever a photo is
assessed); migration `0008_photo_bands` filled it for photos recorded before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from tracker.models import Attachment, PhotoBand

# (shift, width) of each band, high bits first: 13+13+13+13+12 = 64
BANDS: tuple[tuple[int, int], ...] = ((51, 13), (38, 13), (25, 13), (12, 13), (0, 12))
MAX_BITS = len(BANDS) - 1  # the largest distance the bands are sure to find


def bands(value: int) -> list[tuple[int, int]]:
    """(band number, band value) pairs of a 64-bit hash."""
    return [(i, (value >> shift) & ((1 << width) - 1)) for i, (shift, width) in enumerate(BANDS)]


def index_photos(s: Session, attachments: Sequence[Attachment]) -> None:
    """Make `photo_band` hold exactly the bands of those attachments that are photos
    with a hash (two statements, whatever the number)."""
    ids = [a.id for a in attachments]
    if not ids:
        return
    s.execute(delete(PhotoBand).where(PhotoBand.attachment_id.in_(ids)))
    rows = [
        {"attachment_id": a.id, "band": band, "value": value}
        for a in attachments
        if a.photo and a.phash
        for band, value in bands(int(a.phash, 16))
    ]
    if rows:
        s.execute(insert(PhotoBand), rows)


def band_condition(hashes: Iterable[int]) -> ColumnElement[bool]:
    """WHERE clause: rows sharing at least one band with one of `hashes` (one indexed
    IN-list per band)."""
    by_band: dict[int, set[int]] = {}
    for h in hashes:
        for band, value in bands(h):
            by_band.setdefault(band, set()).add(value)
    return or_(
        *(
            and_(PhotoBand.band == band, PhotoBand.value.in_(sorted(values)))
            for band, values in sorted(by_band.items())
        )
    )


def candidate_ids(s: Session, hashes: Sequence[int]) -> list[int]:
    """Attachment ids whose hash shares a band with one of `hashes` (the candidates to
    check; every photo within `MAX_BITS` bits is among them)."""
    if not hashes:
        return []
    return sorted(set(s.scalars(select(PhotoBand.attachment_id).where(band_condition(hashes)))))


def near(a: int, b: int, bits: int) -> bool:
    return (a ^ b).bit_count() <= bits


__all__ = ["BANDS", "MAX_BITS", "band_condition", "bands", "candidate_ids", "index_photos", "near"]

"""How long AttachmentStore.put takes for phone-sized photos, next to plain writes.

Run: .venv/bin/python bench/store_bench.py [--count 200]

Generates ``count`` distinct 3000x2000 JPEGs with Pillow, then in the same run times
(1) a baseline that only writes each payload to a file, and (2) ``AttachmentStore.put``
(hash, sniff, verify, decode, thumbnail, atomic fsynced writes). It prints numbers; it
asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intake.parsing import MailAttachment
from intake.store import AttachmentStore


def make_photos(count: int, size: tuple[int, int]) -> list[bytes]:
    """Distinct JPEGs with some texture, so they compress like photos rather than flat fills."""
    noise = Image.effect_noise(size, 40).convert("RGB")
    photos = []
    for i in range(count):
        im = Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        im = Image.blend(im, noise, 0.35)
        draw = ImageDraw.Draw(im)
        draw.rectangle((100 + i, 100, 1200 + i, 900), fill=(255 - i % 256, 120, 30))
        draw.text((150, 150), f"photo {i}", fill=(255, 255, 255))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=85)
        photos.append(buf.getvalue())
    return photos


def baseline(photos: list[bytes], folder: Path) -> float:
    folder.mkdir(parents=True)
    start = time.perf_counter()
    for i, data in enumerate(photos):
        (folder / f"{i}.jpg").write_bytes(data)
    return time.perf_counter() - start


def store_all(photos: list[bytes], root: Path) -> tuple[float, int]:
    store = AttachmentStore(root)
    start = time.perf_counter()
    images = 0
    for i, data in enumerate(photos):
        stored = store.put(MailAttachment(f"IMG_{i:04d}.JPG", "image/jpeg", data))
        images += stored.is_image
    return time.perf_counter() - start, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    size = (3000, 2000)

    t0 = time.perf_counter()
    photos = make_photos(args.count, size)
    total_mb = sum(map(len, photos)) / 1e6
    print(f"generated {len(photos)} JPEGs {size[0]}x{size[1]}, {total_mb:.1f} MB "
          f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(photos, Path(tmp) / "plain")
        stored, images = store_all(photos, Path(tmp) / "store")
        again, _ = store_all(photos, Path(tmp) / "store")

    n = len(photos)
    print(f"baseline write_bytes:     {base:7.2f} s  ({base / n * 1000:6.1f} ms/photo)")
    print(f"AttachmentStore.put:      {stored:7.2f} s  ({stored / n * 1000:6.1f} ms/photo), "
          f"{images}/{n} thumbnailed")  # fmt: skip
    print(f"put again (idempotent):   {again:7.2f} s  ({again / n * 1000:6.1f} ms/photo)")
    print(f"ratio put / baseline:     {stored / base:7.1f}x")


if __name__ == "__main__":
    main()

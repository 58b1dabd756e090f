"""Tests for intake.store: real files under tmp_path, real images made with Pillow."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from intake.parsing import MailAttachment
from intake.store import (
    ALLOWED_EXTENSIONS,
    AttachmentStore,
    StoreLimits,
    StorePathError,
    safe_name,
)

# -- helpers ----------------------------------------------------------------------------


def jpeg_bytes(
    size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_bytes(
    size: tuple[int, int], mode: str = "RGB", color: float | tuple[float, ...] | None = None
) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color if color is not None else 0).save(buf, format="PNG")
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, well-formed PNG header declaring a huge image (1-bit greyscale)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def outside_files(tmp_path: Path, root: Path) -> list[Path]:
    """Every file under tmp_path that is not inside root."""
    return [p for p in all_files(tmp_path) if not p.resolve().is_relative_to(root.resolve())]


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "store")


# -- plain files ------------------------------------------------------------------------


def test_put_is_content_addressed_and_idempotent(store: AttachmentStore) -> None:
    data = b"%PDF-1.4\n% report for 2024-03\n"
    sha = hashlib.sha256(data).hexdigest()
    first = store.put(MailAttachment("三月报告.pdf", "application/pdf", data))
    assert first.sha256 == sha
    assert first.relpath == f"files/{sha[:2]}/{sha}.pdf"
    assert first.size == len(data)
    assert first.safe_name == "三月报告.pdf"
    assert first.content_type == "application/pdf"
    assert not first.is_image and first.thumb_relpath is None and first.error is None
    path = store.root / first.relpath
    assert path.read_bytes() == data
    mtime = path.stat().st_mtime_ns
    inode = path.stat().st_ino

    # Same bytes under another name and type: same file, not rewritten.
    again = store.put(MailAttachment("copy.bin", "application/octet-stream", data))
    assert again.relpath == first.relpath
    assert again.safe_name == "copy.bin"
    assert path.stat().st_mtime_ns == mtime and path.stat().st_ino == inode
    assert all_files(store.root) == [path]  # no temp files left behind


@pytest.mark.parametrize(
    ("filename", "content_type", "ext"),
    [
        ("活动情况.docx", "application/octet-stream", ".docx"),
        ("表格.XLSX", "application/octet-stream", ".xlsx"),
        ("汇报.wps", "application/octet-stream", ".wps"),
        ("scan.TIFF", "application/octet-stream", ".tif"),
        ("", "application/pdf", ".pdf"),
        ("noext", "application/vnd.ms-excel", ".xls"),
        ("video", "video/quicktime", ".mov"),
        ("tool.exe", "application/x-msdownload", ".bin"),
        ("evil.php", "text/html", ".bin"),
        ("photos.zip", "application/zip", ".zip"),
        ("data.7z", "", ".7z"),
        ("weird", "not a content type", ".bin"),
    ],
)
def test_extension_from_allow_list(
    store: AttachmentStore, filename: str, content_type: str, ext: str
) -> None:
    data = f"payload for {filename} {content_type}".encode()
    stored = store.put(MailAttachment(filename, content_type, data))
    assert stored.relpath is not None
    assert stored.relpath.endswith(ext)
    assert Path(stored.relpath).suffix in ALLOWED_EXTENSIONS | {".bin"}


def test_zip_is_stored_as_a_file_not_unpacked(store: AttachmentStore) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escape.txt", "would escape")
        zf.writestr("photo.jpg", jpeg_bytes())
    stored = store.put(MailAttachment("活动照片.zip", "application/zip", buf.getvalue()))
    assert stored.relpath is not None and stored.relpath.endswith(".zip")
    assert not stored.is_image and stored.error is None
    assert [p.name for p in all_files(store.root)] == [Path(stored.relpath).name]


def test_oversized_payload_is_recorded_not_written(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "s", StoreLimits(max_file_bytes=1000))
    data = b"x" * 1001
    stored = store.put(MailAttachment("big.pdf", "application/pdf", data))
    assert stored.relpath is None
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == 1001
    assert stored.error is not None and "过大" in stored.error
    assert stored.safe_name == "big.pdf"
    assert all_files(tmp_path) == []
    # At the limit it is stored.
    ok = store.put(MailAttachment("ok.pdf", "application/pdf", b"y" * 1000))
    assert ok.relpath is not None and ok.error is None


def test_put_raw_atomic_and_idempotent(store: AttachmentStore) -> None:
    raw = "From: a@b.cn\r\nSubject: 报告\r\n\r\nbody\r\n".encode()
    sha = hashlib.sha256(raw).hexdigest()
    first = store.put_raw(raw)
    assert (first.sha256, first.relpath, first.size) == (sha, f"raw/{sha[:2]}/{sha}.eml", len(raw))
    path = store.root / first.relpath
    assert path.read_bytes() == raw
    stat = path.stat()
    assert store.put_raw(raw) == first
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    assert all_files(store.root) == [path]


def test_concurrent_puts_of_same_bytes(store: AttachmentStore) -> None:
    data = os.urandom(200_000)
    results: list[object] = []

    def worker() -> None:
        results.append(store.put(MailAttachment("same.pdf", "application/pdf", data)))
        results.append(store.put_raw(data))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    files = all_files(store.root)
    assert len(files) == 2  # one attachment, one raw copy, no leftovers
    assert all(p.read_bytes() == data for p in files)


# -- names never become paths -----------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\boot.ini",
    "/etc/shadow",
    "C:\\x.exe",
    "C:x.exe",
    "report\x00.pdf",
    "a\nb\r\nc.pdf",
    "x" * 10_000 + ".pdf",
    "报告" * 5000 + ".docx",
    "..",
    ".",
    "",
    "....",
    "../",
    ".htaccess",
    "CON",
    "nul.txt",
    "\u202egpj.exe",
    "a/../../../../../tmp/evil.jpg",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_never_become_paths(tmp_path: Path, name: str) -> None:
    root = tmp_path / "store"
    store = AttachmentStore(root)
    data = f"content of {name[:50]!r}".encode()
    stored = store.put(MailAttachment(name, "application/octet-stream", data))
    image = store.put(MailAttachment(name, "image/jpeg", jpeg_bytes((50, 40))))

    assert outside_files(tmp_path, root) == []
    for result in (stored, image):
        assert result.relpath is not None
        assert result.relpath.startswith("files/")
        assert result.sha256 in result.relpath
        assert ".." not in Path(result.relpath).parts
        assert (root / result.relpath).is_file()
    sn = stored.safe_name
    assert sn and "/" not in sn and "\\" not in sn and "\x00" not in sn
    assert "\n" not in sn and "\r" not in sn and not sn.startswith(".")
    assert ".." not in sn
    assert len(sn.encode("utf-8")) <= 200
    # Every file in the store is one we named by hash.
    for p in all_files(root):
        assert p.name.split(".")[0] in {stored.sha256, image.sha256}


@pytest.mark.parametrize(
    ("name", "hint", "expected"),
    [
        ("../../etc/passwd", "", "passwd"),
        ("..\\..\\boot.ini", "", "boot.ini"),
        ("/etc/shadow", "", "shadow"),
        ("C:\\x.exe", "", "x.exe"),
        ("C:x.exe", "", "x.exe"),
        ("report\x00.pdf", "", "report.pdf"),
        ("a\nb.pdf", "", "a b.pdf"),
        ("", ".jpg", "附件.jpg"),
        ("", ".bin", "附件"),
        ("..", ".pdf", "附件.pdf"),
        ("....", "", "附件"),
        (".htaccess", "", "htaccess"),
        ("CON", "", "_CON"),
        ("nul.txt", "", "_nul.txt"),
        ("lpt1.tar.gz", "", "_lpt1.tar.gz"),
        ("拍照", ".heic", "拍照.heic"),
        ("汇报 .docx", ".bin", "汇报.docx"),
        ("\u202egpj.exe", "", "gpj.exe"),
        ("报告:b*c?<>|.pdf", "", "报告_b_c____.pdf"),
        ("活动  照片.JPG", "", "活动 照片.jpg"),
    ],
)
def test_safe_name_examples(name: str, hint: str, expected: str) -> None:
    assert safe_name(name, hint) == expected


def test_safe_name_limits_utf8_bytes_keeping_extension() -> None:
    long_cn = "县林业局" * 100 + ".xlsx"
    out = safe_name(long_cn)
    assert out.endswith(".xlsx")
    assert len(out.encode("utf-8")) <= 200
    assert out.startswith("县林业局")
    out.encode("utf-8").decode("utf-8")  # no split character
    assert safe_name("y" * 10_000).encode() == b"y" * 200


def test_safe_name_lone_surrogates_dropped() -> None:
    out = safe_name("\udcc4\udce3报告.doc")
    assert out == "报告.doc"
    out.encode("utf-8")


# -- open_path --------------------------------------------------------------------------


def test_open_path_inside_root(store: AttachmentStore) -> None:
    stored = store.put(MailAttachment("a.txt", "text/plain", b"hello"))
    assert stored.relpath is not None
    path = store.open_path(stored.relpath)
    assert path.read_bytes() == b"hello"
    assert path.is_relative_to(store.root)


@pytest.mark.parametrize(
    "relpath",
    [
        "../outside.txt",
        "files/../../outside.txt",
        "/etc/passwd",
        "..\\outside.txt",
        "C:\\Windows\\win.ini",
        "",
        ".",
        "files/\x00x",
    ],
)
def test_open_path_refuses_escapes(tmp_path: Path, relpath: str) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    store = AttachmentStore(tmp_path / "store")
    with pytest.raises(StorePathError):
        store.open_path(relpath)


def test_open_path_refuses_symlink_out_of_root(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    root = tmp_path / "store"
    (root / "files").mkdir(parents=True)
    (root / "files" / "link.txt").symlink_to(tmp_path / "outside.txt")
    store = AttachmentStore(root)
    with pytest.raises(StorePathError):
        store.open_path("files/link.txt")


# -- images -----------------------------------------------------------------------------


def test_jpeg_sniffed_verified_and_thumbnailed(store: AttachmentStore) -> None:
    data = jpeg_bytes((1600, 1200))
    # Content type and name lie: the bytes decide.
    stored = store.put(MailAttachment("scan.dat", "application/octet-stream", data))
    assert stored.is_image and stored.error is None
    assert (stored.width, stored.height) == (1600, 1200)
    assert stored.content_type == "image/jpeg"
    assert stored.relpath is not None and stored.relpath.endswith(".jpg")
    assert stored.thumb_relpath == f"thumbs/{stored.sha256[:2]}/{stored.sha256}.jpg"
    with Image.open(store.root / stored.thumb_relpath) as thumb:
        assert thumb.format == "JPEG" and thumb.mode == "RGB"
        assert thumb.size == (320, 240)
    thumb_stat = (store.root / stored.thumb_relpath).stat()
    again = store.put(MailAttachment("again.jpg", "image/jpeg", data))
    assert again == dataclasses.replace(stored, safe_name="again.jpg")
    assert (store.root / stored.thumb_relpath).stat().st_mtime_ns == thumb_stat.st_mtime_ns


def test_exif_orientation_applied_to_thumbnail(store: AttachmentStore) -> None:
    # Stored 600x400: left half red, right half blue; orientation 6 = rotate 90° clockwise.
    im = Image.new("RGB", (600, 400), (255, 0, 0))
    im.paste((0, 0, 255), (300, 0, 600, 400))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif, quality=95)
    stored = store.put(MailAttachment("IMG_0001.JPG", "image/jpeg", buf.getvalue()))
    assert stored.is_image
    assert (stored.width, stored.height) == (400, 600)  # as displayed
    assert stored.thumb_relpath is not None
    with Image.open(store.root / stored.thumb_relpath) as thumb:
        assert thumb.size == (213, 320)
        top = thumb.getpixel((106, 20))
        bottom = thumb.getpixel((106, 300))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # left edge went to the top: red
    assert bottom[2] > 200 and bottom[0] < 60  # right edge went to the bottom: blue


def test_heic_photo(store: AttachmentStore) -> None:
    pillow_heif.register_heif_opener()
    im = Image.new("RGB", (1024, 768), (10, 160, 40))
    buf = io.BytesIO()
    im.save(buf, format="HEIF", quality=80)
    data = buf.getvalue()
    assert data[4:12] == b"ftypheic"
    stored = store.put(MailAttachment("IMG_2024.HEIC", "application/octet-stream", data))
    assert stored.is_image and stored.error is None
    assert (stored.width, stored.height) == (1024, 768)
    assert stored.relpath is not None and stored.relpath.endswith(".heic")
    assert stored.content_type == "image/heic"
    assert stored.thumb_relpath is not None
    with Image.open(store.root / stored.thumb_relpath) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (320, 240)
        pixel = thumb.getpixel((160, 120))
    assert isinstance(pixel, tuple) and pixel[1] > 120 and pixel[0] < 60


@pytest.mark.parametrize(
    ("mode", "color", "fmt"),
    [
        ("RGBA", (0, 0, 255, 0), "PNG"),
        ("LA", (0, 0), "PNG"),
        ("P", 3, "GIF"),
        ("CMYK", (0, 255, 255, 0), "JPEG"),
        ("L", 128, "BMP"),
        ("I;16", 40000, "PNG"),
        ("RGB", (1, 2, 3), "WEBP"),
        ("RGB", (1, 2, 3), "TIFF"),
    ],
)
def test_modes_and_formats_make_rgb_thumbnails(
    store: AttachmentStore, mode: str, color: object, fmt: str
) -> None:
    buf = io.BytesIO()
    Image.new(mode, (500, 100), color).save(buf, format=fmt)  # type: ignore[arg-type]
    stored = store.put(MailAttachment("", "application/octet-stream", buf.getvalue()))
    assert stored.is_image, stored.error
    assert (stored.width, stored.height) == (500, 100)
    assert stored.thumb_relpath is not None
    with Image.open(store.root / stored.thumb_relpath) as thumb:
        assert thumb.mode == "RGB" and thumb.size == (320, 64)
        if mode in ("RGBA", "LA"):
            assert thumb.getpixel((160, 32)) == (255, 255, 255)  # transparent -> white


def test_decompression_bomb_refused_but_bytes_kept(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "s")
    data = bomb_png()
    assert len(data) < 200
    before = Image.MAX_IMAGE_PIXELS
    stored = store.put(MailAttachment("bomb.png", "image/png", data))
    assert before == Image.MAX_IMAGE_PIXELS  # Pillow's global is restored
    assert not stored.is_image and stored.thumb_relpath is None
    assert stored.error is not None and "图片像素过多" in stored.error
    assert stored.relpath is not None
    assert (store.root / stored.relpath).read_bytes() == data
    assert not (store.root / "thumbs").exists()


def test_pixel_limit_is_per_store_and_warning_range_refused(tmp_path: Path) -> None:
    # 40x40 = 1600 px: above a limit of 1000 but below Pillow's 2x error threshold,
    # i.e. the range where Pillow only warns. It must still be refused, without a warning.
    before = Image.MAX_IMAGE_PIXELS
    small = AttachmentStore(tmp_path / "small", StoreLimits(max_image_pixels=1000))
    normal = AttachmentStore(tmp_path / "normal")
    data = png_bytes((40, 40))
    refused = small.put(MailAttachment("a.png", "image/png", data))
    assert not refused.is_image and refused.error is not None and "图片像素过多" in refused.error
    accepted = normal.put(MailAttachment("a.png", "image/png", data))
    assert accepted.is_image and accepted.error is None
    assert before == Image.MAX_IMAGE_PIXELS


def test_truncated_jpeg_stored_without_thumbnail(store: AttachmentStore) -> None:
    full = jpeg_bytes((1200, 900))
    # Noise so the entropy-coded data is long and the cut lands inside it.
    noisy = Image.effect_noise((1200, 900), 60).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, format="JPEG")
    data = buf.getvalue()[: len(buf.getvalue()) // 2]
    stored = store.put(MailAttachment("cut.jpg", "image/jpeg", data))
    assert not stored.is_image and stored.thumb_relpath is None
    assert stored.error is not None and "损坏" in stored.error
    assert stored.relpath is not None and (store.root / stored.relpath).read_bytes() == data
    assert full  # the intact one is fine
    assert store.put(MailAttachment("ok.jpg", "image/jpeg", full)).is_image


def test_corrupt_png_crc_fails_verify(store: AttachmentStore) -> None:
    data = bytearray(png_bytes((64, 64), "RGB", (9, 9, 9)))
    idat = data.find(b"IDAT")
    data[idat + 6] ^= 0xFF  # flip a byte inside the IDAT payload: CRC mismatch
    stored = store.put(MailAttachment("bad.png", "image/png", bytes(data)))
    assert not stored.is_image and stored.error is not None
    assert stored.relpath is not None and (store.root / stored.relpath).is_file()


def test_non_image_claiming_to_be_image(store: AttachmentStore) -> None:
    stored = store.put(MailAttachment("photo.jpg", "image/jpeg", b"<html>not a photo</html>"))
    assert not stored.is_image and stored.thumb_relpath is None
    assert stored.error is not None and "无法识别" in stored.error
    assert stored.content_type == "image/jpeg"


def test_eps_is_never_decoded(store: AttachmentStore) -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    stored = store.put(MailAttachment("a.eps", "application/postscript", eps))
    assert not stored.is_image and stored.error is None
    assert stored.relpath is not None and stored.relpath.endswith(".bin")


# -- contact sheet ----------------------------------------------------------------------


def test_mpo_from_phone_camera(store: AttachmentStore) -> None:
    frames = [Image.new("RGB", (800, 600), (200, 0, 0)), Image.new("RGB", (800, 600), (0, 0, 200))]
    buf = io.BytesIO()
    frames[0].save(buf, format="MPO", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(buf.getvalue())) as probe:
        assert probe.format == "MPO"
    stored = store.put(MailAttachment("DSC_0001.JPG", "image/jpeg", buf.getvalue()))
    assert stored.is_image and stored.error is None
    assert (stored.width, stored.height) == (800, 600)
    assert stored.relpath is not None and stored.relpath.endswith(".jpg")
    assert stored.content_type == "image/jpeg"


def test_the_photo_hash_taken_from_the_thumbnail_decode_is_what_a_second_reading_gets(
    store: AttachmentStore,
) -> None:
    from tracker.evidence import photo_facts
    from tracker.samples import photo

    data = photo(7, size=(2000, 1500))
    stored = store.put(MailAttachment("IMG_7.jpg", "image/jpeg", data))
    assert stored.phash is not None and len(stored.phash) == 16
    assert photo_facts(data).phash == stored.phash  # rematch decodes again: same bits
    assert photo_facts(photo(8, size=(2000, 1500))).phash != stored.phash

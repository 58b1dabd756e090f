"""Content-addressed storage for attachments and raw mail, with image checks and thumbnails.

Files are stored under ``root/files/<sha[:2]>/<sha><ext>``, thumbnails under
``root/thumbs/<sha[:2]>/<sha>.jpg`` and raw mail under ``root/raw/<sha[:2]>/<sha>.eml``.
Nothing a mail names ever becomes a path: the file name a sender wrote only yields
``safe_name`` (for display and download) and, through a fixed allow-list, an extension.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import stat
import tempfile
import threading
import time
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Protocol

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

# Extensions a stored file may carry; anything else is stored as ".bin".
ALLOWED_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".bmp", ".tif",
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".wps", ".txt",
        ".zip", ".rar", ".7z", ".mp4", ".mov",
    }
)  # fmt: skip

_EXT_ALIASES = {".tiff": ".tif", ".jpe": ".jpg", ".jfif": ".jpg"}

_CONTENT_TYPE_EXT = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/x-png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/heic-sequence": ".heic",
    "image/heif-sequence": ".heif",
    "image/bmp": ".bmp",
    "image/x-bmp": ".bmp",
    "image/x-ms-bmp": ".bmp",
    "image/tiff": ".tif",
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.ms-works": ".wps",
    "application/kswps": ".wps",
    "application/wps-office.wps": ".wps",
    "text/plain": ".txt",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "application/x-rar-compressed": ".rar",
    "application/x-rar": ".rar",
    "application/vnd.rar": ".rar",
    "application/x-7z-compressed": ".7z",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
}

# Pillow formats we decode. Everything else (EPS would run Ghostscript, PSD, ICO...) is
# treated as an ordinary file.
_IMAGE_FORMAT_EXT = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "HEIF": ".heic",
}
_IMAGE_FORMAT_MIME = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heic",
}

_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
    | {"com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³", "conin$", "conout$"}
)
_WINDOWS_BAD_CHARS = re.compile(r'[<>:"|?*]')
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
_ORIENTATION_TAG = 0x0112
_SAFE_NAME_MAX_BYTES = 200
_FALLBACK_STEM = "附件"

# Pillow keeps its decompression-bomb limit in a module global. We set it per call and
# restore it afterwards; the lock keeps our own threads from seeing each other's value.
_PILLOW_LOCK = threading.RLock()


def _upright_size(im: Image.Image) -> tuple[int, int]:
    """The picture's (width, height) as shown: swapped when EXIF says it is turned a
    quarter (orientations 5-8)."""
    w, h = im.size
    return (h, w) if im.getexif().get(_ORIENTATION_TAG, 1) in (5, 6, 7, 8) else (w, h)


class AttachmentLike(Protocol):
    """What ``put`` needs from an attachment (``intake.parsing.MailAttachment`` fits)."""

    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


@dataclass(frozen=True)
class StoreLimits:
    max_image_pixels: int = 64_000_000
    thumb_size: int = 320  # longest side of a thumbnail, in pixels
    max_file_bytes: int = 100 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    relpath: str | None  # POSIX, relative to root; None when the payload was not written
    size: int
    content_type: str
    safe_name: str
    is_image: bool  # True only when the image was decoded and a thumbnail exists
    width: int | None  # as displayed (EXIF orientation applied); header size on errors
    height: int | None
    thumb_relpath: str | None
    error: str | None  # simplified Chinese, for staff
    # dHash of a JPEG when this call decoded it (see photo_dhash); None when the thumbnail
    # was already there. A by-product: not part of what makes two results equal.
    phash: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StoredRaw:
    sha256: str
    relpath: str
    size: int


class StoreSymlinkError(OSError):
    """A symbolic link where the store keeps its own files: never followed."""


class StorePathError(ValueError):
    """A relative path that would leave the store root."""


@dataclass(frozen=True)
class _ImageResult:
    format: str | None
    width: int | None = None
    height: int | None = None
    thumb_written: bool = False
    error: str | None = None
    phash: str | None = None


class AttachmentStore:
    """Stores attachments and raw mail under ``root``; see the module docstring."""

    def __init__(self, root: Path, limits: StoreLimits | None = None) -> None:
        self.root = Path(root).resolve()
        self.limits = limits or StoreLimits()

    # -- public -----------------------------------------------------------------------

    def put(self, att: AttachmentLike, *, sync: bool = True) -> StoredFile:
        """Store one attachment (and its thumbnail). With ``sync=False`` the files are
        written but not fsynced: call :meth:`sync` before anything relies on them."""
        payload = bytes(att.payload)
        sha = hashlib.sha256(payload).hexdigest()
        size = len(payload)
        declared = _normalise_content_type(att.content_type)
        filename = att.filename or ""

        if size > self.limits.max_file_bytes:
            ext = _extension_for(filename, declared, None)
            mb = size / (1024 * 1024)
            cap = self.limits.max_file_bytes / (1024 * 1024)
            return StoredFile(
                sha256=sha,
                relpath=None,
                size=size,
                content_type=declared,
                safe_name=safe_name(filename, ext),
                is_image=False,
                width=None,
                height=None,
                thumb_relpath=None,
                error=f"文件过大（{mb:.1f} MB，上限 {cap:.0f} MB），未保存",
            )

        thumb_rel = f"thumbs/{sha[:2]}/{sha}.jpg"
        image = self._process_image(payload, declared, self.root / thumb_rel, sync)
        ext = _extension_for(filename, declared, image.format)
        file_rel = self._existing_file(sha) or f"files/{sha[:2]}/{sha}{ext}"
        _write_once(self.root, self.root / file_rel, payload, sync)

        content_type = _IMAGE_FORMAT_MIME.get(image.format or "", declared)
        return StoredFile(
            sha256=sha,
            relpath=file_rel,
            size=size,
            content_type=content_type,
            safe_name=safe_name(filename, PurePosixPath(file_rel).suffix),
            is_image=image.thumb_written,
            width=image.width,
            height=image.height,
            thumb_relpath=thumb_rel if image.thumb_written else None,
            error=image.error,
            phash=image.phash,
        )

    def put_raw(self, raw: bytes, *, sync: bool = True) -> StoredRaw:
        sha = hashlib.sha256(raw).hexdigest()
        rel = f"raw/{sha[:2]}/{sha}.eml"
        _write_once(self.root, self.root / rel, raw, sync)
        return StoredRaw(sha256=sha, relpath=rel, size=len(raw))

    def sync(self) -> None:
        """Make every file written so far durable (one filesystem sync for a batch)."""
        if self.root.is_dir():
            sync_filesystem(self.root)

    def open_path(self, relpath: str) -> Path:
        """The absolute path of a stored file; refuses anything that resolves outside root."""
        if not relpath or "\x00" in relpath:
            raise StorePathError(f"invalid store path {relpath!r}")
        rel = PurePosixPath(relpath.replace("\\", "/"))
        if rel.is_absolute() or _DRIVE_PREFIX.match(relpath):
            raise StorePathError(f"absolute path not allowed: {relpath!r}")
        path = (self.root / rel).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise StorePathError(f"path leaves the store: {relpath!r}")
        current = self.root
        for part in rel.parts:
            current = current / part
            if current.is_symlink():
                raise StorePathError(f"symbolic link in the store refused: {relpath!r}")
        return path

    def sweep_temp(self, *, older_than: float = 3600.0) -> int:
        """Remove the temp files (``.tmp-*.part``) of writes a crash interrupted.

        Only files older than ``older_than`` seconds go, so a write in progress in another
        process is left alone. Links are neither followed nor removed. Returns the count.
        """
        removed = 0
        cutoff = time.time() - older_than
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            for name in files:
                if not (name.startswith(".tmp-") and name.endswith(".part")):
                    continue
                path = os.path.join(folder, name)
                with suppress(OSError):
                    st = os.lstat(path)
                    if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
        if removed:
            log.warning("removed %d temp file(s) of interrupted writes from the store", removed)
        return removed

    # -- internals --------------------------------------------------------------------

    def _existing_file(self, sha: str) -> str | None:
        """The relpath of bytes already stored under another extension, if any."""
        folder = self.root / "files" / sha[:2]
        try:
            with os.scandir(folder) as entries:  # no pattern to compile per file (glob)
                names = sorted(e.name for e in entries if e.name.startswith(sha + "."))
        except (FileNotFoundError, NotADirectoryError):
            return None
        for name in names:
            candidate = folder / name
            if candidate.suffix in ALLOWED_EXTENSIONS | {".bin"} and _is_regular(candidate):
                return f"files/{sha[:2]}/{name}"
        return None

    @staticmethod
    def _unidentified_error(declared: str) -> str | None:
        """An error only when the mail said this was a photo format we would have read."""
        if _CONTENT_TYPE_EXT.get(declared, "") in _IMAGE_FORMAT_EXT.values():
            return "图片无法识别，未生成缩略图"
        return None

    def _process_image(
        self, payload: bytes, declared: str, thumb_path: Path, sync: bool = True
    ) -> _ImageResult:
        _register_heif()
        limit = self.limits.max_image_pixels
        # Pillow's bomb check runs when a file is opened: only that needs our limit (and
        # the lock around Pillow's global); decoding runs unlocked, on any thread.
        with _pillow_pixel_limit(limit):
            try:
                im = Image.open(io.BytesIO(payload), formats=_open_formats())
                fmt = im.format or ""
                w, h = im.size
            except Image.UnidentifiedImageError:
                return _ImageResult(format=None, error=self._unidentified_error(declared))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                return _ImageResult(format=None, error="图片像素过多，未生成缩略图")
            except Exception as exc:  # untrusted bytes: any decoder error
                log.info("image header unreadable: %s", exc)
                return _ImageResult(format=None, error=self._unidentified_error(declared))
        with im:
            if w * h > limit:
                return _ImageResult(
                    format=fmt, width=w, height=h, error=f"图片像素过多（{w}×{h}），未生成缩略图"
                )
            try:
                if fmt in ("JPEG", "MPO"):
                    return self._jpeg_thumbnail(im, thumb_path, fmt, sync)
                with _pillow_pixel_limit(limit):
                    return self._decode_and_thumbnail(payload, thumb_path, fmt, sync)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                return _ImageResult(
                    format=fmt, width=w, height=h, error="图片像素过多，未生成缩略图"
                )
            except Exception as exc:  # untrusted bytes: any decoder error
                log.info("image not decodable (%s): %s", fmt, exc)
                return _ImageResult(
                    format=fmt, width=w, height=h, error="图片已损坏或不完整，未生成缩略图"
                )

    def _jpeg_thumbnail(
        self, im: Image.Image, thumb_path: Path, fmt: str, sync: bool
    ) -> _ImageResult:
        """One decode is both the check and the thumbnail: the JPEG decoder's reduced-size
        decoding (``draft``: 1/2, 1/4 or 1/8 of the size) still reads every entropy-coded
        block, so a truncated or corrupt photo fails here as a full decode would."""
        w, h = _upright_size(im)
        if _is_regular(thumb_path):
            # Already decoded successfully once: same bytes, same thumbnail.
            return _ImageResult(format=fmt, width=w, height=h, thumb_written=True)
        side = self.limits.thumb_size
        im.draft(None, (side, side))  # the smallest scale still at least `side` wide/high
        im.load()
        _shrink(im, side)
        phash = _dhash(im) if side == DHASH_DRAFT else None
        rgb = _to_rgb(ImageOps.exif_transpose(im))
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=85)
        _write_once(self.root, thumb_path, buf.getvalue(), sync)
        return _ImageResult(format=fmt, width=w, height=h, thumb_written=True, phash=phash)

    def _decode_and_thumbnail(
        self, payload: bytes, thumb_path: Path, fmt: str, sync: bool = True
    ) -> _ImageResult:
        with Image.open(io.BytesIO(payload), formats=[_opener(fmt)]) as im:
            im.verify()
        with Image.open(io.BytesIO(payload), formats=[_opener(fmt)]) as im:
            w, h = _upright_size(im)
            if _is_regular(thumb_path):
                # Already decoded successfully once: same bytes, same thumbnail.
                return _ImageResult(format=fmt, width=w, height=h, thumb_written=True)
            side = self.limits.thumb_size
            im.thumbnail((side, side))  # decodes the whole stream
            thumb = ImageOps.exif_transpose(im)
            rgb = _to_rgb(thumb)
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=85)
        _write_once(self.root, thumb_path, buf.getvalue(), sync)
        return _ImageResult(format=fmt, width=w, height=h, thumb_written=True)


# The perceptual hash of a photo is taken from its thumbnail (the JPEG decoded at this
# draft size, then shrunk to it): the thumbnail's own pixels, so a photo is decoded once
# at recording (photo_dhash repeats it for a photo read again, e.g. by rematch, and gets
# the same bits).
DHASH_DRAFT = 320
DHASH_SIDE = 8  # 9x8 grey pixels, 64 bits


def photo_dhash(im: Image.Image) -> str:
    """The dHash of an opened, not yet loaded image, decoded as the thumbnail decodes it."""
    im.draft(None, (DHASH_DRAFT, DHASH_DRAFT))  # JPEG: reduced-size decoding; others: none
    _shrink(im, DHASH_DRAFT)
    return _dhash(im)


def _shrink(im: Image.Image, side: int) -> None:
    """Shrink `im` in place to fit `side` × `side`, by area average (the thumbnail)."""
    im.thumbnail((side, side), Image.Resampling.BOX, reducing_gap=None)


def _dhash(im: Image.Image) -> str:
    grey = im.convert("L").resize((DHASH_SIDE + 1, DHASH_SIDE), Image.Resampling.LANCZOS)
    px = grey.tobytes()
    w = DHASH_SIDE + 1
    bits = 0
    for row in range(DHASH_SIDE):
        for col in range(DHASH_SIDE):
            bits = (bits << 1) | (1 if px[row * w + col] > px[row * w + col + 1] else 0)
    return f"{bits:016x}"


def safe_name(filename: str, ext_hint: str = "") -> str:
    """A display/download name from what the sender wrote; never a path, never empty.

    ``ext_hint`` (e.g. ".pdf") is appended when the name has no extension of its own and
    used for the "附件" fallback; ".bin" is never appended.
    """
    name = unicodedata.normalize("NFC", filename or "")
    chars: list[str] = []
    for ch in name:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\v\f\x85\u2028\u2029":
            chars.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue  # NUL, controls, bidi overrides, lone surrogates, unassigned
        else:
            chars.append(ch)
    name = "".join(chars)
    # Only the last path component, whichever separator the sender's system used.
    name = re.split(r"[/\\]", name)[-1]
    name = _DRIVE_PREFIX.sub("", name)
    name = _WINDOWS_BAD_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip()
    name = name.lstrip(". ").rstrip(". ")
    name = re.sub(r"\.{2,}", ".", name)

    stem, ext = _split_ext(name)
    hint = ext_hint.lower() if ext_hint and ext_hint.lower() != ".bin" else ""
    if not stem:
        stem, ext = _FALLBACK_STEM, ext or hint
    elif not ext:
        ext = hint
    if stem.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    budget = _SAFE_NAME_MAX_BYTES - len(ext.encode("utf-8"))
    stem = _truncate_utf8(stem, budget).rstrip(". ") or _FALLBACK_STEM
    return stem + ext


# -- helpers ----------------------------------------------------------------------------


@cache
def _register_heif() -> bool:
    """Load Pillow's plugins and register the HEIC/HEIF opener, once.

    False when pillow-heif is unavailable.
    """
    # Image.open(formats=...) needs each listed format's plugin loaded: those alone, not
    # all of Pillow's (Image.init), which costs every command that polls a start-up
    Image.preinit()  # BMP, GIF, JPEG, PNG
    from PIL import MpoImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - it is a declared dependency
        log.warning("pillow-heif not installed: HEIC photos are stored without thumbnails")
        return False
    pillow_heif.register_heif_opener()
    return True


def _open_formats() -> list[str]:
    """Pillow format names to try; MPO comes through the JPEG opener, HEIF if registered."""
    _register_heif()
    return [f for f in _IMAGE_FORMAT_EXT if f in Image.OPEN]


def _opener(fmt: str) -> str:
    return "JPEG" if fmt == "MPO" else fmt


@contextmanager
def _pillow_pixel_limit(limit: int) -> Iterator[None]:
    """Pillow's bomb limit set to ``limit`` for this block, its warning raised as an error."""
    with _PILLOW_LOCK:
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB for JPEG output; transparency is flattened onto white."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")
    return im.convert("RGB")


def _is_regular(path: Path) -> bool:
    """A regular file itself, not a link to one."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _real_dirs(root: Path, path: Path, sync: bool = True) -> None:
    """Create ``path``'s parent folders under ``root``; refuse a symbolic link among them
    (a link planted in the store must not send our writes elsewhere)."""
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)  # the store itself: where the config says
    current = root
    for part in path.parent.relative_to(root).parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            with suppress(FileExistsError):
                os.mkdir(current, 0o700)
                if sync:  # else the batch's one filesystem sync makes the name durable
                    _fsync_dir(current.parent)
            st = os.lstat(current)
        if not stat.S_ISDIR(st.st_mode):
            raise StoreSymlinkError(f"not a real folder in the store, refused: {current}")


def _fsync_dir(folder: Path) -> None:
    """Make a new name in ``folder`` durable: the file a message row names must be on the
    disk after a power cut or a disk that turns read-only, not only its contents."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_once(root: Path, path: Path, data: bytes, sync: bool = True) -> None:
    """Atomically write ``data`` to ``path`` unless an identical-size file is already there.

    Links are never followed: a link in the way is replaced by the file (rename replaces
    the link itself), a link among the folders is refused. ``sync=False`` leaves the
    fsync to a later :func:`sync_filesystem` (once per batch).
    """
    _real_dirs(root, path, sync)
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_size == len(data):
            return
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if sync:  # the rename too survives a crash or a failing disk
            _fsync_dir(path.parent)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _normalise_content_type(value: str | None) -> str:
    ctype = (value or "").split(";")[0].strip().lower()
    return (
        ctype if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", ctype) else "application/octet-stream"
    )


def _extension_for(filename: str, content_type: str, image_format: str | None) -> str:
    """Sniffed image format first, then the sender's file name, then the content type."""
    if image_format in _IMAGE_FORMAT_EXT:
        return _IMAGE_FORMAT_EXT[image_format]
    _, ext = _split_ext(re.split(r"[/\\]", filename or "")[-1])
    ext = _EXT_ALIASES.get(ext, ext)
    if ext in ALLOWED_EXTENSIONS:
        return ext
    return _CONTENT_TYPE_EXT.get(content_type, ".bin")


def _split_ext(name: str) -> tuple[str, str]:
    """(stem, ".ext") with a lower-cased short alphanumeric extension, else (name, "")."""
    match = re.fullmatch(r"(.*?)(\.[A-Za-z0-9]{1,10})", name)
    if not match:
        return name, ""
    return match.group(1), match.group(2).lower()


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(max_bytes, 0)].decode("utf-8", "ignore")


def sync_filesystem(path: Path) -> None:
    """Make everything written so far on the filesystem holding ``path`` durable.

    One syncfs(2) on Linux (one call for a whole batch of files); elsewhere a plain sync.
    Raises OSError when the file system reports that it could not write them (a disk that
    turned read-only drops what was not yet written: nothing may be recorded on it).
    """
    import ctypes

    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = getattr(libc, "syncfs", None)
        if syncfs is None:
            os.sync()
        elif syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)

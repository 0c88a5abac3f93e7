"""Product images: find an item's image file and re-encode it to a fixed-size, deterministic PNG.

Images come from a folder of files named by raw item id (the user's own, or the one
`benchmark.data.download` fills from the metadata's URLs), or from a metadata value that is a local path
or file:// URL inside the raw folder. An http(s) URL is never fetched here: only its downloaded copy
counts, so preparing a dataset never touches the network.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import struct
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from PIL import Image, ImageOps

from benchmark.data.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
DEFAULT_IMAGES_SUBDIR = "images"  # <raw_dir>/images: where `download` puts files by default
BACKGROUND = (255, 255, 255)  # transparent pixels are composed onto white (product photos' usual ground)


def file_stem(raw_id: str) -> str:
    """A safe file-name stem for a raw id: ids of letters, digits, "-", "_" and "." (ASINs) are
    unchanged, other characters percent-encoded, a leading "." too (no hidden files, no "..")."""
    stem = urllib.parse.quote(str(raw_id), safe="-_.")
    return "%2E" + stem[1:] if stem.startswith(".") else stem


@functools.lru_cache(maxsize=8)
def _folder_names(images_dir: str, mtime_ns: int) -> frozenset[str]:
    """File names in a folder, listed once (a stat per item and extension costs minutes at 85 k items)."""
    return frozenset(e.name for e in os.scandir(images_dir) if e.is_file())


def find_image_file(images_dir: Path, raw_id: str) -> Path | None:
    """`<images_dir>/<stem>.<ext>` for the first image extension present (lower or upper case)."""
    stem = file_stem(raw_id)
    names = _folder_names(str(images_dir), os.stat(images_dir).st_mtime_ns)
    for ext in IMAGE_EXTENSIONS:
        for suffix in (ext, ext.upper()):
            if f"{stem}{suffix}" in names:
                return Path(images_dir) / f"{stem}{suffix}"
    return None


def _local_path(image_url: str, raw_dir: Path) -> Path | None:
    """The file a relative path, absolute path or file:// URL names, if it exists inside raw_dir."""
    parsed = urllib.parse.urlparse(image_url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
    elif parsed.scheme == "":
        path = Path(image_url)
    else:  # http(s) and anything else: only a downloaded copy counts
        return None
    if not path.is_absolute():
        path = Path(raw_dir) / path
    root = Path(raw_dir).resolve()
    try:
        path = path.resolve()
    except (OSError, RuntimeError):
        return None
    return path if path.is_relative_to(root) and path.is_file() else None


def resolve_image(raw_id: str, image_url: str | None, raw_dir: Path, images_dir: Path | None = None) -> Path | None:
    """The image file for an item, or None.

    Order: `<images_dir>/<raw_id>.{jpg,jpeg,png,webp,gif}` (images_dir defaults to
    `<raw_dir>/images`, the downloader's output folder); then `image_url` when it is a relative path,
    absolute path or file:// URL of an existing file under raw_dir. http(s) URLs resolve only through
    the first step.
    """
    found = resolve_images([(raw_id, image_url)], raw_dir, images_dir)[0]
    return Path(found) if found is not None else None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILTER_TYPES = bytes(range(5))


def is_plain_png(data: bytes, size: int) -> bool:
    """True when `data` is a complete PNG of exactly the kind `normalize_image` writes and keeps: 8-bit RGB,
    size x size, not interlaced, only IHDR, IDAT and IEND chunks, every CRC right, the pixel stream whole
    (each row one valid filter byte and 3 * size bytes). Checked with zlib alone, ~10x faster than Pillow's
    verify-and-decode; any other file (False) takes the Pillow path. The images the embedded world renders
    are all of this kind."""
    if not data.startswith(_PNG_SIGNATURE):
        return False
    pos, idat, chunks = len(_PNG_SIGNATURE), [], []
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, end = data[pos + 4:pos + 8], pos + 12 + length
        if end > len(data) or zlib.crc32(data[pos + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            return False
        chunks.append(kind)
        if kind == b"IHDR" and data[pos + 8:end - 4] != struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0):
            return False
        if kind == b"IDAT":
            idat.append(data[pos + 8:end - 4])
        pos = end
        if kind == b"IEND":
            break
    if pos != len(data) or chunks[:1] != [b"IHDR"] or chunks[-1:] != [b"IEND"] or not idat or \
            set(chunks[1:-1]) != {b"IDAT"}:
        return False
    try:
        z = zlib.decompressobj()
        pixels = z.decompress(b"".join(idat), (1 + 3 * size) * size + 1)
        if not z.eof or z.unused_data or z.unconsumed_tail:
            return False
    except zlib.error:
        return False
    rows = 1 + 3 * size
    return len(pixels) == rows * size and not pixels[::rows].translate(None, _FILTER_TYPES)


_SUFFIXES = tuple(suffix for ext in IMAGE_EXTENSIONS for suffix in (ext, ext.upper()))


def resolve_images(items, raw_dir: Path, images_dir: Path | None = None) -> list[str | None]:
    """`resolve_image` for many `(raw_id, image_url)` pairs, as path strings: the folder is looked at once
    (a Path and a stat per item cost seconds at 85 k items)."""
    folder = Path(images_dir) if images_dir is not None else Path(raw_dir) / DEFAULT_IMAGES_SUBDIR
    names = _folder_names(str(folder), os.stat(folder).st_mtime_ns) if folder.is_dir() else frozenset()
    prefix = os.path.join(str(folder), "")
    out: list[str | None] = []
    for raw_id, url in items:
        stem = file_stem(raw_id)
        found = next((prefix + stem + suffix for suffix in _SUFFIXES if stem + suffix in names), None)
        if found is None and url:
            local = _local_path(url.strip(), raw_dir)
            found = str(local) if local is not None else None
        out.append(found)
    return out


def normalize_image(path: str | Path, size: int) -> bytes:
    """PNG bytes of the image, EXIF-rotated, RGB (transparency onto white), centre-cropped to a square
    and resized to size x size with bicubic filtering. The same input and Pillow version give the same
    bytes; an RGB PNG already of that size is kept byte for byte (after a full decode check). A file that cannot be decoded raises DataError(path, None, "cannot decode image: ...")."""
    if size < 1:
        raise ValueError(f"image size must be positive, got {size}")
    try:
        with open(path, "rb") as f:  # read once: the check, the decode and the kept bytes share it
            data = f.read()
        if is_plain_png(data, size):
            return data  # already what we would write, and whole: kept byte for byte (as below)
        with Image.open(io.BytesIO(data)) as im:
            im.verify()  # structural check (PNG CRCs, ...); the image must be reopened after it
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # decodes fully: a truncated file fails here
            if im.format == "PNG" and im.mode == "RGB" and im.size == (size, size) and not im.info.get("exif"):
                return data  # already what we would write: keep the bytes as they are
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                ground = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
                im = Image.alpha_composite(ground, rgba)
            im = im.convert("RGB")
            im = ImageOps.fit(im, (size, size), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))
            buf = io.BytesIO()
            im.save(buf, format="PNG", optimize=False, compress_level=6)
            return buf.getvalue()
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as e:
        raise DataError(path, None, f"cannot decode image: {type(e).__name__}: {e}") from e


def normalize_to_file(job: tuple[str, str, int]) -> str | DataError:
    """`job` = (source, destination, size): check, re-encode (when needed) and write one image; its sha256 for
    the manifest (so it is never read again), or the DataError. Path strings: a Path per image costs more than
    its check (80 k images). Here, not in `benchmark.prepare`: `prepare`'s image workers import this module only."""
    src, dst, size = job
    try:
        data = normalize_image(src, size)
    except DataError as e:
        return e
    with open(dst, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()

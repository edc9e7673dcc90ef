"""Awkward and broken image files of every kind issue 6 lists, written with Pillow.

Each maker writes one file and returns its path; :data:`DECODABLE` kinds must decode to RGB,
:data:`BROKEN` kinds must raise ``ImageDecodeError`` naming the file.  Shared by the tests and
``benchmarks/reliability.py``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def _pattern(seed: int, size: tuple[int, int] = (40, 24)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def jpeg_bytes(seed: int = 0, size: tuple[int, int] = (40, 24)) -> bytes:
    buffer = io.BytesIO()
    _pattern(seed, size).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_bytes(seed: int = 0, size: tuple[int, int] = (40, 24)) -> bytes:
    buffer = io.BytesIO()
    _pattern(seed, size).save(buffer, "PNG")
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG (CRCs included) claiming ``width`` x ``height`` with 1 KB of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes(1024))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def format_samples() -> dict[str, bytes]:
    """Small valid files of each format Pillow reads here, and a bomb header: seeds for mutation."""

    def encoded(format: str, mode: str = "RGB") -> bytes:
        buffer = io.BytesIO()
        Image.frombytes("RGB", (12, 9), bytes(range(256)) * 2).convert(mode).save(buffer, format)
        return buffer.getvalue()

    return {
        "jpeg": jpeg_bytes(1, (24, 16)),
        "png": png_bytes(1, (24, 16)),
        "gif": encoded("GIF", "P"),
        "webp": encoded("WEBP"),
        "bmp": encoded("BMP"),
        "tiff": encoded("TIFF"),
        "png16": encoded("PNG", "I;16"),
        "bomb": png_header_claiming(70_000, 70_000),
    }


def _save(image: Image.Image, path: Path, format: str, **options) -> Path:
    image.save(path, format, **options)
    return path


def truncated_jpeg(path: Path, seed: int = 0) -> Path:
    data = jpeg_bytes(seed, (120, 80))
    path.write_bytes(data[: len(data) // 2])
    return path


def random_bytes(path: Path, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    return path


def empty_file(path: Path, seed: int = 0) -> Path:
    path.write_bytes(b"")
    return path


def text_file(path: Path, seed: int = 0) -> Path:
    path.write_text(f"<html>not an image {seed}</html>\n")
    return path


def bomb_header(path: Path, seed: int = 0) -> Path:
    path.write_bytes(png_header_claiming(100_000 + seed, 100_000))
    return path


def png_named_jpg(path: Path, seed: int = 0) -> Path:
    return _save(_pattern(seed), path, "PNG")


def gif_named_jpg(path: Path, seed: int = 0) -> Path:
    return _save(_pattern(seed).convert("P"), path, "GIF")


def webp_named_jpg(path: Path, seed: int = 0) -> Path:
    return _save(_pattern(seed), path, "WEBP")


def grayscale(path: Path, seed: int = 0) -> Path:
    return _save(_pattern(seed).convert("L"), path, "PNG")


def cmyk(path: Path, seed: int = 0) -> Path:
    return _save(_pattern(seed).convert("CMYK"), path, "JPEG")


def rgba(path: Path, seed: int = 0) -> Path:
    image = _pattern(seed).convert("RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent: must come out white
    return _save(image, path, "PNG")


def sixteen_bit(path: Path, seed: int = 0) -> Path:
    array = np.random.default_rng(seed).integers(0, 65536, size=(24, 40), dtype=np.uint16)
    array[0, 0] = 65535
    return _save(Image.fromarray(array), path, "PNG")


def exif_rotated(path: Path, seed: int = 0) -> Path:
    """40x24 stored, EXIF orientation 6 (display rotated 90 degrees clockwise); top-left is red."""
    array = np.zeros((24, 40, 3), dtype=np.uint8)
    array[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(Image.fromarray(array), path, "JPEG", exif=exif.tobytes(), quality=95)


def one_pixel(path: Path, seed: int = 0) -> Path:
    return _save(Image.new("RGB", (1, 1), (seed % 256, 10, 20)), path, "PNG")


def huge(path: Path, seed: int = 0) -> Path:
    """300x300: over the limit when a test lowers ``PIL.Image.MAX_IMAGE_PIXELS`` (see HUGE_LIMIT)."""
    return _save(Image.new("RGB", (300, 300 + seed % 7)), path, "PNG")


#: ``Image.MAX_IMAGE_PIXELS`` to set while decoding :func:`huge` images (they have 90,000+ pixels).
HUGE_LIMIT = 50_000

Maker = Callable[[Path, int], Path]

DECODABLE: dict[str, Maker] = {
    "png_named_jpg": png_named_jpg,
    "gif_named_jpg": gif_named_jpg,
    "webp_named_jpg": webp_named_jpg,
    "grayscale": grayscale,
    "cmyk": cmyk,
    "rgba": rgba,
    "sixteen_bit": sixteen_bit,
    "exif_rotated": exif_rotated,
    "one_pixel": one_pixel,
}

BROKEN: dict[str, Maker] = {
    "truncated_jpeg": truncated_jpeg,
    "random_bytes": random_bytes,
    "empty_file": empty_file,
    "text_file": text_file,
    "bomb_header": bomb_header,
    "huge": huge,
}

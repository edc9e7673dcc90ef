"""Uploaded images, checked before anything decodes them and kept only in the session's temp folder.

Each file is read up to :data:`MAX_FILE_BYTES` (more is refused), its header is read to learn its
size before any pixel is decoded (more than :data:`MAX_PIXELS` is refused: a decompression bomb
is a small file that decodes to gigabytes), then it is decoded once to prove it is an image.  It
is written under a generated name inside the session's upload folder, so an uploaded file name
(``../../etc/passwd``) never becomes a path; the name is only echoed back in the answer.
"""

from __future__ import annotations

import io
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

#: Largest accepted file, in bytes (a large phone photo is 5-15 MB).
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Files per request.
MAX_FILES = 64
#: Largest accepted image, in pixels (width x height): 50 megapixels.
MAX_PIXELS = 50_000_000
#: The suffixes kept for the stored copy (the decoder reads the content, not the name).
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}


class UploadError(Exception):
    """An upload the studio refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str, name: str = "") -> None:
        super().__init__(f"{name}: {message}" if name else message)
        self.status = status
        self.name = name


@dataclass
class Upload:
    """A checked upload: where the studio stored it and the name the client gave it."""

    path: Path
    name: str


def display_name(name: str | None) -> str:
    """The client's file name without any folder part (for answers only, never a path)."""
    return PurePath((name or "upload").replace("\\", "/")).name or "upload"


def check_image(data: bytes, name: str) -> str:
    """The image format of ``data``, after checking its pixel count and decoding it.

    Raises:
        UploadError: 413 for too many pixels, 415 for content that is not a decodable image.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise UploadError(
                        413, f"image of {width}x{height} pixels is larger than the limit of {MAX_PIXELS} pixels", name
                    )
                image_format = image.format or ""
                image.load()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadError(413, f"image refused as a decompression bomb ({error})", name) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise UploadError(415, f"not a decodable image ({type(error).__name__}: {error})", name) from error
    return image_format


def read_limited(stream: BinaryIO, name: str) -> bytes:
    """At most :data:`MAX_FILE_BYTES` of ``stream``; more raises ``UploadError`` 413."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UploadError(413, f"file larger than the limit of {MAX_FILE_BYTES // (1024 * 1024)} MiB", name)
    if not data:
        raise UploadError(415, "empty file", name)
    return data


@contextmanager
def stored_uploads(files: Sequence[tuple[str | None, BinaryIO]], folder: Path) -> Iterator[list[Upload]]:
    """Check every ``(name, stream)`` and store it under ``folder``; the copies are removed on exit."""
    if not files:
        raise UploadError(422, "no files: send one or more images as multipart field 'files'")
    if len(files) > MAX_FILES:
        raise UploadError(413, f"{len(files)} files in one request; the limit is {MAX_FILES}")
    folder.mkdir(parents=True, exist_ok=True)
    uploads: list[Upload] = []
    try:
        for raw_name, stream in files:
            name = display_name(raw_name)
            data = read_limited(stream, name)
            image_format = check_image(data, name)
            path = folder / f"{uuid.uuid4().hex}{SUFFIXES.get(image_format, '.img')}"
            path.write_bytes(data)
            uploads.append(Upload(path, name))
        yield uploads
    finally:
        for upload in uploads:
            upload.path.unlink(missing_ok=True)

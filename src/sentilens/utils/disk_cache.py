"""The one on-disk cache policy of sentilens: entries named by a key digest, published atomically,
verified on every read, rebuilt when damaged.

Every cache (converted networks, block features, channel and group pictures) is a
:class:`DiskCache`: a folder of entries.  An entry is named by its caller, usually
``<readable prefix>-<key_digest(key)>``, where the *key* is the JSON description of everything
that determines the entry (a weights digest, an image digest, settings).  The key itself is stored
with the entry and compared on read, so an entry is only ever used for the key it was built for.

* A **file entry** is one file: a JSON header line (the cache's format tag, the key, the size and
  SHA-256 of the payload) followed by the payload bytes (an ``.npz``, a ``.npy``, ...).
  :meth:`DiskCache.load` checks the header and the digest of the very bytes it hands to the
  parser, so what is used is what was checked.
* A **folder entry** is a folder of built files plus ``manifest.json`` (format tag, key and every
  file's SHA-256); :meth:`DiskCache.folder` checks every file it returns.

Publishing writes a temporary file or folder beside the entry (``.<name>.<random>``), flushes it
to disk and renames it into place, so a reader never sees half an entry.  Concurrent writers of
one key are safe: a file entry is replaced whole by each rename (every writer wrote a sound entry
of that key); for a folder entry the first sound one stays and the others discard their copy.  A
damaged entry (truncated, a changed byte, another key, unparseable) is treated as missing: the
cache says so in one line through its :data:`~sentilens.utils.progress.Say`, deletes it and the
caller builds it again.  Temporary files and folders of writers that were killed are removed once
they are hours old.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sentilens.utils.atomic import atomic_path
from sentilens.utils.hashing import json_digest
from sentilens.utils.progress import Say, quiet

MANIFEST = "manifest.json"
#: A temporary file or folder this old was left by a writer that died (a build takes minutes, not hours).
STALE_SECONDS = 6 * 3600

T = TypeVar("T")


class DamagedEntryError(ValueError):
    """A cache entry that fails verification; the message says how."""


def key_digest(key: Mapping[str, Any]) -> str:
    """32 hex digits of the SHA-256 of the canonical JSON of ``key``: the usual part of an entry's name."""
    return json_digest(dict(key))[:32]


def _as_stored(key: Mapping[str, Any]) -> Any:
    """``key`` as it reads back from JSON (tuples become lists), for comparing with a stored key."""
    return json.loads(json.dumps(dict(key)))


@dataclass
class CachedFolder:
    """A verified folder entry.

    Attributes:
        path: the entry's folder.
        contents: the verified bytes of each file, by name.
        built: True when this call built the entry, False when it was read from the cache.
    """

    path: Path
    contents: dict[str, bytes]
    built: bool


class DiskCache:
    """A folder of verified entries (see the module docstring).

    Args:
        root: the cache's folder; created when the first entry is written.
        format: a tag stored in every entry (e.g. ``"sentilens-channels/1"``); change it when the
            payload's layout changes, and older entries read as damaged and are rebuilt.
        say: receives one line for each damaged entry found.
    """

    def __init__(self, root: str | Path, format: str, say: Say = quiet) -> None:
        self.root = Path(root)
        self.format = format
        self.say = say
        self._swept = False

    def load(self, name: str, key: Mapping[str, Any], parse: Callable[[bytes], T]) -> T | None:
        """File entry ``name`` as ``parse(payload)``, or None when it is absent or damaged.

        A damaged entry, including one whose verified payload ``parse`` rejects with any
        exception, is said, deleted and reported as absent, so the caller rebuilds it.
        """
        path = self.root / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            self._discard(path, error)
            return None
        try:
            return parse(self._payload(data, key))
        except Exception as error:  # a payload the parser rejects is as damaged as a changed byte
            self._discard(path, error)
            return None

    def save(self, name: str, key: Mapping[str, Any], payload: bytes) -> Path:
        """Publish ``payload`` as file entry ``name`` for ``key`` (atomically); return its path."""
        self._prepare()
        header = {
            "format": self.format,
            "key": dict(key),
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        path = self.root / name
        with atomic_path(path) as temporary, open(temporary, "wb") as stream:
            stream.write(json.dumps(header, sort_keys=True).encode() + b"\n")
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        return path

    def folder(self, name: str, key: Mapping[str, Any], build: Callable[[Path], None]) -> CachedFolder:
        """Folder entry ``name`` for ``key``, built by ``build(folder)`` when absent or damaged.

        ``build`` writes its files into the empty temporary folder it is given; they are
        digested into the manifest, published, and read back verified.
        """
        entry = self.root / name
        if entry.exists():
            try:
                return CachedFolder(entry, self._read_folder(entry, key), built=False)
            except (OSError, ValueError) as error:
                self.say(f"cache entry {entry} is damaged ({error}); rebuilding it")
        self._prepare()
        built = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        try:
            build(built)
            self._write_manifest(built, key)
            self._publish_folder(built, entry, key)
        finally:
            shutil.rmtree(built, ignore_errors=True)
        return CachedFolder(entry, self._read_folder(entry, key), built=True)

    def _payload(self, data: bytes, key: Mapping[str, Any]) -> bytes:
        """The payload of a file entry's bytes after checking its header against ``key`` and its digest."""
        end = data.find(b"\n")
        if end < 0:
            raise DamagedEntryError("no header")
        header = json.loads(data[:end])
        if not isinstance(header, dict) or header.get("format") != self.format:
            raise DamagedEntryError(f"not an entry of {self.format}")
        if header.get("key") != _as_stored(key):
            raise DamagedEntryError("an entry of another key")
        payload = data[end + 1 :]
        if len(payload) != header.get("size"):
            raise DamagedEntryError(f"{len(payload)} bytes where {header.get('size')} were written")
        if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
            raise DamagedEntryError("the bytes do not match their digest")
        return payload

    def _read_folder(self, entry: Path, key: Mapping[str, Any]) -> dict[str, bytes]:
        """The files of folder entry ``entry`` after checking them against its manifest and ``key``.

        Raises :class:`DamagedEntryError` (or ``OSError`` for a missing file) saying what is wrong.
        """
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != self.format:
            raise DamagedEntryError(f"not an entry of {self.format}")
        if manifest.get("key") != _as_stored(key):
            raise DamagedEntryError("manifest of another key")
        digests = manifest.get("files")
        if not isinstance(digests, dict) or not digests:
            raise DamagedEntryError("manifest lists no files")
        contents = {}
        for file, expected in digests.items():
            data = (entry / file).read_bytes()
            if hashlib.sha256(data).hexdigest() != expected:
                raise DamagedEntryError(f"{file} does not match its digest")
            contents[file] = data
        return contents

    def _write_manifest(self, folder: Path, key: Mapping[str, Any]) -> None:
        files = {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.iterdir())
            if path.is_file() and path.name != MANIFEST
        }
        if not files:
            raise ValueError("the build wrote no files")
        with open(folder / MANIFEST, "w", encoding="utf-8") as stream:
            json.dump({"format": self.format, "key": dict(key), "files": files}, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())

    def _publish_folder(self, built: Path, entry: Path, key: Mapping[str, Any]) -> None:
        """Rename the finished folder ``built`` to ``entry``; a sound entry already there wins."""
        try:
            os.rename(built, entry)
            return
        except OSError:
            pass  # the entry exists: another writer finished first, or a damaged entry is in the way
        try:
            self._read_folder(entry, key)
            return
        except (OSError, ValueError):
            pass
        trash = entry.with_name(f".{entry.name}.damaged-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(entry, trash)
        except FileNotFoundError:
            pass
        try:
            os.rename(built, entry)
        except OSError:
            self._read_folder(entry, key)  # a concurrent writer replaced it first; use theirs if it is sound
        shutil.rmtree(trash, ignore_errors=True)

    def _discard(self, path: Path, error: Exception) -> None:
        """Say that entry ``path`` is damaged and delete it."""
        self.say(f"cache entry {path} is damaged ({error}); rebuilding it")
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass  # another process removed or replaced it; the caller rebuilds either way

    def _prepare(self) -> None:
        """Create the root and, once per cache object, remove what killed writers left there."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._swept:
            return
        self._swept = True
        now = time.time()
        for leftover in self.root.glob(".*"):
            try:
                if now - leftover.stat().st_mtime <= STALE_SECONDS:
                    continue
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()
            except FileNotFoundError:
                pass

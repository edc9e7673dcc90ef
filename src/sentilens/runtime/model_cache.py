"""A disk cache of built files (converted and quantised networks): built once, verified on every read.

Each entry is a folder named by the caller's key, holding the built files and ``manifest.json``
(the key and every file's SHA-256).  An entry is written into a temporary folder beside it and
renamed into place, so a reader never sees half an entry and concurrent writers are safe: the
first rename wins and the others discard their copy.  Reading verifies the digests of the very
bytes it returns, so what is used is what was checked; an entry that fails (missing file,
changed byte, another key) is rebuilt, never trusted.  Temporary folders of writers that were
killed are removed once they are hours old.
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
from typing import Any

from sentilens.utils.progress import Say, quiet

FORMAT = "sentilens-runtime-cache/1"
MANIFEST = "manifest.json"
#: A temporary folder this old was left by a writer that died (a build takes minutes, not hours).
STALE_SECONDS = 6 * 3600


@dataclass
class CachedFiles:
    """A verified cache entry.

    Attributes:
        path: the entry's folder.
        contents: the verified bytes of each file, by name.
        built: True when this call built the entry, False when it was read from the cache.
    """

    path: Path
    contents: dict[str, bytes]
    built: bool


def read_entry(entry: Path, key: Mapping[str, Any]) -> dict[str, bytes]:
    """The files of ``entry`` after checking them against its manifest and ``key``.

    Raises ``ValueError`` (or ``OSError`` for a missing file) saying what is wrong.
    """
    manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError("not a runtime cache manifest")
    if manifest.get("key") != json.loads(json.dumps(dict(key))):
        raise ValueError("manifest of another key")
    digests = manifest.get("files")
    if not isinstance(digests, dict) or not digests:
        raise ValueError("manifest lists no files")
    contents = {}
    for name, expected in digests.items():
        data = (entry / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:
            raise ValueError(f"{name} does not match its digest")
        contents[name] = data
    return contents


def _write_manifest(folder: Path, key: Mapping[str, Any]) -> None:
    files = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    if not files:
        raise ValueError("the build wrote no files")
    with open(folder / MANIFEST, "w", encoding="utf-8") as stream:
        json.dump({"format": FORMAT, "key": dict(key), "files": files}, stream, indent=2)
        stream.flush()
        os.fsync(stream.fileno())


def _publish(built: Path, entry: Path, key: Mapping[str, Any]) -> None:
    """Rename the finished folder ``built`` to ``entry``; a valid entry already there wins."""
    try:
        os.rename(built, entry)
        return
    except OSError:
        pass  # the entry exists: another writer finished first, or a damaged entry is in the way
    try:
        read_entry(entry, key)
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
        read_entry(entry, key)  # a concurrent writer replaced it first; use theirs if it is sound
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale(root: Path, name: str) -> None:
    """Delete temporary folders of ``name`` that writers killed mid-build left behind."""
    now = time.time()
    for leftover in root.glob(f".{name}.*"):
        try:
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except FileNotFoundError:
            pass


def cached_files(
    root: Path, name: str, key: Mapping[str, Any], build: Callable[[Path], None], say: Say = quiet
) -> CachedFiles:
    """The files of entry ``root/name`` for ``key``, built by ``build(folder)`` when absent or damaged.

    ``build`` writes its files into the (empty, temporary) folder it is given; ``key`` must be
    JSON data and is stored in the manifest, so an entry is only used for the key it was built for.
    """
    entry = root / name
    if entry.exists():
        try:
            return CachedFiles(entry, read_entry(entry, key), built=False)
        except (OSError, ValueError) as error:
            say(f"cache entry {entry} is damaged ({error}); rebuilding it")
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root, name)
    folder = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        build(folder)
        _write_manifest(folder, key)
        _publish(folder, entry, key)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return CachedFiles(entry, read_entry(entry, key), built=True)

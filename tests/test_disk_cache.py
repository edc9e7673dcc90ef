"""The one disk-cache policy: key digests, atomic publishing, verified reads, damaged entries rebuilt."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from sentilens.utils.disk_cache import MANIFEST, STALE_SECONDS, DiskCache, key_digest

KEY = {"model": "abc", "precision": "int8", "sizes": (1, 2)}
FORMAT = "sentilens-test/1"


def _text(payload: bytes) -> str:
    return payload.decode("ascii")


def _cache(root: Path, messages: list[str] | None = None) -> DiskCache:
    return DiskCache(root, FORMAT, messages.append if messages is not None else lambda message: None)


def test_key_digest_is_canonical_and_tells_keys_apart() -> None:
    assert key_digest({"a": 1, "b": [2]}) == key_digest({"b": (2,), "a": 1})
    assert key_digest({"a": 1}) != key_digest({"a": 2})
    assert len(key_digest(KEY)) == 32


def test_a_file_entry_reads_back_what_was_published(tmp_path: Path) -> None:
    messages: list[str] = []
    cache = _cache(tmp_path / "cache", messages)
    assert cache.load("entry", KEY, _text) is None, "absent"
    path = cache.save("entry", KEY, b"payload")
    assert path == tmp_path / "cache" / "entry"
    assert cache.load("entry", KEY, _text) == "payload"
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry"], "no temporary file is left"
    assert messages == [], "an absent or sound entry is not news"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[:-3], "bytes where"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 0x01]), "digest"),
        (lambda data: data.replace(b'"int8"', b'"fp32"'), "another key"),
        (lambda data: data.replace(FORMAT.encode(), b"sentilens-test/2"), "not an entry of"),
        (lambda data: b"", "no header"),
        (lambda data: b"not json\n" + data, "Expecting value"),
    ],
)
def test_a_damaged_file_entry_is_said_deleted_and_reads_as_absent(tmp_path: Path, damage, reason: str) -> None:
    messages: list[str] = []
    cache = _cache(tmp_path, messages)
    path = cache.save("entry", KEY, b"a payload of some length")
    path.write_bytes(damage(path.read_bytes()))
    assert cache.load("entry", KEY, _text) is None
    assert not path.exists(), "the damaged entry is deleted"
    assert len(messages) == 1 and str(path) in messages[0] and reason in messages[0]
    cache.save("entry", KEY, b"rebuilt")
    assert cache.load("entry", KEY, _text) == "rebuilt"


def test_an_entry_its_parser_rejects_is_damaged_too(tmp_path: Path) -> None:
    messages: list[str] = []
    cache = _cache(tmp_path, messages)
    cache.save("entry", KEY, b"\xff not ascii")
    assert cache.load("entry", KEY, _text) is None
    assert "damaged" in messages[0] and not (tmp_path / "entry").exists()


def test_concurrent_writers_of_one_key_leave_one_sound_entry_and_readers_never_see_half(tmp_path: Path) -> None:
    payloads = [bytes([number]) * 200_000 for number in range(6)]
    messages: list[str] = []
    seen: list[bytes | None] = []
    writing = True

    def write(payload: bytes) -> None:
        for _ in range(5):
            _cache(tmp_path, messages).save("entry", KEY, payload)

    def read() -> None:
        while writing:
            seen.append(_cache(tmp_path, messages).load("entry", KEY, bytes))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    writing = False
    reader.join()
    assert messages == [], "no reader met a half-written entry"
    assert all(s is None or s in payloads for s in seen) and any(s is not None for s in seen)
    assert _cache(tmp_path).load("entry", KEY, bytes) in payloads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_temporaries_of_killed_writers_are_removed_once_stale(tmp_path: Path) -> None:
    old_file, old_folder, young = tmp_path / ".entry.abc123", tmp_path / ".other.def456", tmp_path / ".entry.ghi789"
    old_file.write_bytes(b"half")
    old_folder.mkdir()
    (old_folder / "model.bin").write_bytes(b"half")
    young.write_bytes(b"a writer still at work")
    for leftover in (old_file, old_folder):
        os.utime(leftover, (time.time() - STALE_SECONDS - 60,) * 2)
    _cache(tmp_path).save("entry", KEY, b"payload")
    assert not old_file.exists() and not old_folder.exists()
    assert young.exists(), "a temporary file of a live writer is left alone"


def _slow_build(counter: list[int], payload: bytes):
    def build(folder: Path) -> None:
        counter.append(1)
        time.sleep(0.2)  # long enough for concurrent writers to overlap
        (folder / "model.bin").write_bytes(payload)
        (folder / "model.xml").write_bytes(b"<net/>")

    return build


def test_a_folder_entry_is_built_once_and_a_damaged_one_rebuilt(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    builds: list[int] = []
    build = _slow_build(builds, b"\x01" * 1000)
    first = cache.folder("entry", KEY, build)
    again = cache.folder("entry", KEY, build)
    assert (first.built, again.built, len(builds)) == (True, False, 1)
    assert again.contents == first.contents and first.contents["model.bin"] == b"\x01" * 1000

    damaged = bytearray((tmp_path / "entry" / "model.bin").read_bytes())
    damaged[500] ^= 0xFF
    (tmp_path / "entry" / "model.bin").write_bytes(bytes(damaged))
    messages: list[str] = []
    rebuilt = _cache(tmp_path, messages).folder("entry", KEY, build)
    assert rebuilt.built and len(builds) == 2 and "damaged" in messages[0]
    assert rebuilt.contents == first.contents, "the rebuilt entry holds sound bytes, not the damaged ones"

    (tmp_path / "entry" / "model.xml").unlink()
    assert cache.folder("entry", KEY, build).built, "a missing file is rebuilt"
    manifest = json.loads((tmp_path / "entry" / MANIFEST).read_text())
    manifest["key"]["precision"] = "fp32"
    (tmp_path / "entry" / MANIFEST).write_text(json.dumps(manifest))
    assert cache.folder("entry", KEY, build).built, "an entry made for another key is rebuilt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"], "no temporary or damaged folders left"

    killed = tmp_path / ".entry.left-by-a-killed-writer"
    killed.mkdir()
    os.utime(killed, (time.time() - STALE_SECONDS - 60,) * 2)
    (tmp_path / "entry" / MANIFEST).unlink()
    _cache(tmp_path).folder("entry", KEY, build)
    assert not killed.exists(), "a stale temporary folder is removed when the entry is next built"


def test_concurrent_folder_writers_leave_one_sound_entry(tmp_path: Path) -> None:
    builds: list[int] = []
    results = []

    def writer() -> None:
        results.append(_cache(tmp_path).folder("entry", KEY, _slow_build(builds, b"\x02" * 4096)))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(builds) >= 2, "the writers overlapped"
    assert all(r.contents == results[0].contents for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]
    assert not _cache(tmp_path).folder("entry", KEY, _slow_build(builds, b"")).built

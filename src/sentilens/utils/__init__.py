"""Utilities every layer may use: the version, errors, digests, atomic writes, progress, cache roots
and the one disk-cache policy (:mod:`~sentilens.utils.disk_cache`).

Nothing here imports another part of sentilens, so any module can depend on it.
"""

from sentilens.utils.atomic import atomic_path, write_json_atomic
from sentilens.utils.errors import InvalidArgumentError, SentilensError
from sentilens.utils.hashing import file_digest, json_digest
from sentilens.utils.progress import Say, quiet
from sentilens.utils.version import __version__

__all__ = [
    "InvalidArgumentError",
    "Say",
    "SentilensError",
    "__version__",
    "atomic_path",
    "file_digest",
    "json_digest",
    "quiet",
    "write_json_atomic",
]

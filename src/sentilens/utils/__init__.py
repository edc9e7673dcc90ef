"""Utilities every layer may use: the version, errors, digests, atomic writes, progress, cache roots
and the one disk-cache policy (:mod:`~sentilens.utils.disk_cache`).

Nothing here imports another part of sentilens, so any module can depend on it.

Names are imported on first use (:func:`lazy_face`, which every package face uses): add one by
importing it under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils.lazy import lazy_face

if TYPE_CHECKING:
    from sentilens.utils.atomic import atomic_path, write_json_atomic
    from sentilens.utils.errors import InvalidArgumentError, SentilensError
    from sentilens.utils.hashing import file_digest, json_digest
    from sentilens.utils.logs import VERBOSE_ENV, native_output_to, quiet_libraries, quiet_logger, verbose
    from sentilens.utils.progress import Say, quiet
    from sentilens.utils.version import __version__

__all__ = [
    "InvalidArgumentError",
    "VERBOSE_ENV",
    "native_output_to",
    "quiet_libraries",
    "verbose",
    "quiet_logger",
    "Say",
    "SentilensError",
    "__version__",
    "atomic_path",
    "file_digest",
    "json_digest",
    "lazy_face",
    "quiet",
    "write_json_atomic",
]

lazy_face(__name__)

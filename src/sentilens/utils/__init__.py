"""Utilities every layer may use: the version, errors, digests, atomic writes, progress, cache roots
and the one disk-cache policy (:mod:`~sentilens.utils.disk_cache`).

Nothing here imports another part of sentilens, so any module can depend on it.
"""

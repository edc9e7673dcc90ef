"""Utilities every layer may use: the version, errors, digests, cache roots, atomic writes, progress.

Nothing here imports another part of sentilens, so any module can depend on it.
"""

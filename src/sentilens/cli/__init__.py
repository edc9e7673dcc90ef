"""The ``sentilens`` command: parsing and printing only; the work is in :mod:`sentilens.app`."""

from sentilens.cli.main import app, main

__all__ = ["app", "main"]

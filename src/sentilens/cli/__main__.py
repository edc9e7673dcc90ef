"""``python -m sentilens.cli``: the same as the ``sentilens`` command."""

from sentilens.cli.main import main

main()

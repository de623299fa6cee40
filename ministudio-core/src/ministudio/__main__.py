"""``python -m ministudio``: the same as the ``ministudio`` command."""

from ministudio.cli import main

main()

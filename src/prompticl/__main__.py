"""``python -m prompticl``: the same as the ``prompticl`` command.

The book's page "Reproducing and regenerating the figures" uses the command.
"""
import sys

from .cli import main

sys.exit(main())

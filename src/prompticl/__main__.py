"""``python -m prompticl``: the same as the ``prompticl`` command."""
import sys

from .cli import main

sys.exit(main())

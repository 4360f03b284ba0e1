"""``python -m latentmodels``: see :mod:`latentmodels.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m mercato``: the ``mercato`` command, for an environment whose scripts are not on PATH."""

import sys

from mercato.local.cli import main

if __name__ == "__main__":
    sys.exit(main())

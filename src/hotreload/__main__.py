"""``python -m hotreload``: the command line (see hotreload.cli)."""
import sys

from hotreload.cli import main

if __name__ == "__main__":
    sys.exit(main())

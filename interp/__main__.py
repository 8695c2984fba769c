"""``python -m interp``: the command line (interp.cli)."""

import sys

from interp.cli import main

sys.exit(main())

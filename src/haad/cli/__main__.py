"""``python -m haad.cli``: the same as the ``haad`` command."""

import sys

from haad.cli import main

sys.exit(main())

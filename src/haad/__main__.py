"""``python -m haad``: the same as the ``haad`` command (also ``torchrun -m haad pretrain ...``)."""

import sys

from haad.cli import main

sys.exit(main())

"""``python -m cloudmc_frames.cli``: the ``cloudmc-frames`` command."""

import sys

from . import main

sys.exit(main())

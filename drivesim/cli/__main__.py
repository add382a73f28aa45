"""`python -m drivesim.cli ...`: the `drivesim` command (what `accelerate launch -m` and torchrun run)."""

import sys

from drivesim.cli import main

sys.exit(main())

"""`python -m kerazoo.tuning tune NAME ...`: the same as `kerazoo tune NAME ...`."""
import sys

from kerazoo.tuning.cli import main

sys.exit(main())

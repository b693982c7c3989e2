"""`python -m kerazoo.distribute tf-config|slurm ...`: print this worker's TF_CONFIG (for launch scripts)."""
import sys

from kerazoo.distribute.cluster import main

sys.exit(main())

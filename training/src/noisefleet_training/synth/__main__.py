"""``python -m noisefleet_training.synth``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())

"""``python -m duckspool.cli``."""

import sys

from duckspool.cli import main

sys.exit(main())

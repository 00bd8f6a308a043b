"""``python -m duckspool``: the same as the ``duckspool`` command."""

import sys

from duckspool.cli import main

sys.exit(main())

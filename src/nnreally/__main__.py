"""``python -m nnreally`` is the stage dispatcher, like ``python -m nnreally.stages``."""

import sys

from nnreally.cli import main

sys.exit(main(prog="python -m nnreally"))

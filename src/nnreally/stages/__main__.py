"""``python -m nnreally.stages``: the dispatcher (the stage files themselves ship beside this)."""

import sys

from nnreally.cli import main

sys.exit(main())

"""``python -m batchrelay.cli`` is the ``batchrelay`` command."""

import sys

from batchrelay.cli.main import main

sys.exit(main())

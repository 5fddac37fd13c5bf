"""``python -m batchrelay_tools.cli`` is the ``batchrelay`` command."""

import sys

from batchrelay_tools.cli.main import main

sys.exit(main())

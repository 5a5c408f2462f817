"""``python -m graphcompare ...`` is the ``graphcompare`` command."""

import sys

from .cli import main

sys.exit(main())

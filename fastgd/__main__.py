"""Entry point for ``python -m fastgd``."""

import sys

from .demo import main

sys.exit(main())

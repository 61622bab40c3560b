"""Entry point for ``python -m fastgd``: the command line, whose default command is the demo."""

import sys

from .cli import main

sys.exit(main(prog="python -m fastgd"))

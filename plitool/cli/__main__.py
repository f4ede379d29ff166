"""``python -m plitool.cli``."""

import sys

try:
    from .main import main
except KeyboardInterrupt:  # Ctrl-C while Python was still loading plitool: the same one line
    sys.stderr.write("plitool: interrupted\n")
    sys.exit(130)

main()

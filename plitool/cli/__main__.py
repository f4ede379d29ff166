"""``python -m plitool.cli``."""

import sys

try:
    from .main import main
except KeyboardInterrupt:  # Ctrl-C while Python was still loading plitool: the same one line
    from ..i18n import _

    sys.stderr.write(_("plitool: interrupted; nothing half-written was recorded") + "\n")
    sys.exit(130)

main()

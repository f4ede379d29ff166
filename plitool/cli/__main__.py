"""``python -m plitool.cli``."""

from .main import main

main()

"""``python -m breachdesk``."""

from breachdesk.cli import main

main()

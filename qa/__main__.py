"""``python -m qa`` runs the CLI."""

from qa.interfaces.cli import main

main()

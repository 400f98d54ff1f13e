"""``python -m ratchet`` runs the command line."""

from ratchet.cli.main import main

main()

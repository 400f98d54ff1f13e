"""The ``ratchet`` command line (typer + rich)."""

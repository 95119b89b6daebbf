"""The ``ferry`` command line (click), mirroring ``az ml``; entry point ``ferry.cli.main:main``."""

"""``python -m ferry.server``: serve the workspace named by FERRY_* settings in the foreground."""

from __future__ import annotations

import sys

from ferry.errors import FerryError
from ferry.server.process import run_foreground
from ferry.settings import Settings


def main() -> int:
    try:
        run_foreground(Settings())
    except FerryError as exc:
        print(f"ferry server: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

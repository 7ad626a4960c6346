"""``scalepath`` and ``python -m scalepath``: the command line, with Ctrl-C during start-up handled.

Importing the CLI takes seconds (provider SDKs, pydantic models); a Ctrl-C in that window used to
print Python's KeyboardInterrupt traceback. SIGTERM then needs nothing: its default action ends the
process with status 143 and prints nothing.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Import and run the CLI; interrupted while importing, exit 130 with one line, no traceback."""
    try:
        from scalepath.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted by SIGINT while starting; nothing was done\n")
        raise SystemExit(130) from None
    app()


if __name__ == "__main__":
    main()

"""The `designspace` command.

Each subcommand lives in `designspace/commands/<name>.py` and defines
`register(subparsers)`, which adds its parser and sets `func`. A
`DesignspaceError` (a user mistake) becomes one line on stderr and exit 2.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .errors import DesignspaceError


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    parser = argparse.ArgumentParser(prog="designspace", description="Design network design spaces (RegNet paper toolkit).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser




def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except DesignspaceError as e:
        print(f"designspace {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"designspace {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())

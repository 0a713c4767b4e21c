"""The parser and the entry point; the error policy of every command lives here.

A user's mistake (an InputError: a bad file, record, argument or config value) is one line `error: ...` on
stderr and exit status 2. Anything else is a bug or a broken install: it keeps its traceback (exit status 1).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from .compare_command import add_compare_command
from .data_commands import add_data_commands
from .model_commands import add_model_commands


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="minipplug", description="PPlug: personalize a frozen LLM with a user-embedding plug."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_data_commands(sub)
    add_model_commands(sub)
    add_compare_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

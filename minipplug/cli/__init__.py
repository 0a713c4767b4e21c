"""The command line: `minipplug data|eval|train|predict|demo|compare` (also `python -m minipplug`)."""

from .app import build_parser, main

__all__ = ["build_parser", "main"]

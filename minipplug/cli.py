"""Command line: `minipplug <command>` (also `python -m minipplug`).

Bad input never ends in a traceback: a one-line `error: ...` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from .data import LaMPFormatError


class UsageError(ValueError):
    """Bad input found by a command (exit status 2)."""


def _cmd_data_check(args) -> int:
    from .data import load_examples, profile_stats

    examples = load_examples(args.task, args.questions, args.outputs)
    print(json.dumps(profile_stats(args.task, examples)))
    return 0


def _cmd_make_samples(args) -> int:
    from .samples import make_samples

    for name, summary in make_samples(args.out, seed=args.seed).items():
        print(json.dumps(summary))
    return 0


def _cmd_download(args) -> int:
    from .download import download_lamp

    paths = download_lamp(args.task, args.split, time_based=args.time_based, root=args.root)
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0


def _cmd_eval(args) -> int:
    from .data import read_outputs
    from .metrics import score

    from .tasks import get_task

    get_task(args.task)
    golds, preds = read_outputs(args.golds), read_outputs(args.preds)
    try:
        result = score(args.task, preds, golds)
    except ValueError as e:
        raise UsageError(f"{args.preds}: {e}") from None
    print(json.dumps({k: round(v, 6) for k, v in result.items()}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="minipplug", description="PPlug: personalize a frozen LLM with a user-embedding plug.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect, generate or download LaMP-format data")
    dsub = data.add_subparsers(dest="data_command", required=True)
    check = dsub.add_parser("check", help="validate a questions (and outputs) file and print its statistics")
    check.add_argument("--task", required=True)
    check.add_argument("--questions", required=True)
    check.add_argument("--outputs")
    check.set_defaults(func=_cmd_data_check)
    make = dsub.add_parser("make-samples", help="regenerate the bundled sample datasets")
    make.add_argument("--out", default="data_samples")
    make.add_argument("--seed", type=int, default=0)
    make.set_defaults(func=_cmd_make_samples)
    dl = dsub.add_parser("download", help="download real LaMP files (needs internet)")
    dl.add_argument("--task", required=True)
    dl.add_argument("--split", default="dev", choices=["train", "dev", "test"])
    dl.add_argument("--time-based", action="store_true", help="the time-based split instead of the user-based one")
    dl.add_argument("--root", help="folder to store the files (default: the minipplug cache)")
    dl.set_defaults(func=_cmd_download)

    ev = sub.add_parser("eval", help="score predictions with the official LaMP metrics")
    ev.add_argument("--task", required=True)
    ev.add_argument("--golds", required=True)
    ev.add_argument("--preds", required=True)
    ev.set_defaults(func=_cmd_eval)

    from .commands import add_model_commands

    add_model_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (LaMPFormatError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # e.g. an unknown task name
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ConnectionError, OSError, RuntimeError) as e:
        from .models import ModelNotAvailable

        if isinstance(e, (ModelNotAvailable, ConnectionError, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

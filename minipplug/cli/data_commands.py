"""`minipplug data check|make-samples|download` and `minipplug eval`: the LaMP files, no model."""

from __future__ import annotations

import argparse
import json


def _cmd_data_check(args: argparse.Namespace) -> int:
    from ..lamp.data import load_examples, profile_stats
    from ..lamp.tasks import get_task

    task = get_task(args.task)
    examples = load_examples(task, args.questions, args.outputs)
    print(json.dumps(profile_stats(task, examples)))
    return 0


def _cmd_make_samples(args: argparse.Namespace) -> int:
    from ..lamp.samples import make_samples

    for summary in make_samples(args.out, seed=args.seed).values():
        print(json.dumps(summary))
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from ..lamp.download import download_lamp
    from ..lamp.tasks import get_task

    paths = download_lamp(get_task(args.task), args.split, time_based=args.time_based, root=args.root)
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..lamp.data import read_outputs
    from ..lamp.metrics import score
    from ..lamp.tasks import get_task

    task = get_task(args.task)
    golds, preds = read_outputs(args.golds, task), read_outputs(args.preds)
    try:
        result = score(task, preds, golds)
    except InputError as e:
        raise InputError(f"{args.preds}: {e}") from None
    print(json.dumps({k: round(v, 6) for k, v in result.items()}, allow_nan=False))
    return 0


def add_data_commands(sub) -> None:
    """Register `data` (check, make-samples, download) and `eval`."""
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

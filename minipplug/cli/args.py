"""Arguments shared by the model commands, and the run config they make."""

from __future__ import annotations

import argparse

from ..config import PRESETS, PPlugConfig
from ..lamp.tasks import get_task


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (0 usually means "all" or "off")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def apply_threads() -> None:
    """torch's CPU threads from $MINIPPLUG_THREADS when set (on a shared machine, 1 is often much faster)."""
    import os

    n = os.environ.get("MINIPPLUG_THREADS")
    if n and n.strip().isdigit() and int(n) > 0:
        import torch

        torch.set_num_threads(int(n))


def config_from_args(args: argparse.Namespace) -> PPlugConfig:
    """The run's config: the preset (or the CPU defaults), a --config file over it, then the flags given."""
    cfg = PPlugConfig.preset(args.preset) if getattr(args, "preset", None) else PPlugConfig()
    if getattr(args, "config", None):
        cfg = PPlugConfig.from_file(args.config, base=cfg)
    flags = (
        "epochs",
        "lr",
        "batch_size",
        "seed",
        "llm",
        "encoder",
        "max_train_examples",
        "max_dev_examples",
        "history_dropout_copies",
        "precision",
        "eval_every",
    )
    overrides = {k: getattr(args, k) for k in flags if getattr(args, k, None) is not None}
    if getattr(args, "task", None):
        overrides["task"] = get_task(args.task).name
    if getattr(args, "quiet", False):
        overrides["progress"] = False
    return cfg.replace(**overrides)


def add_common(p: argparse.ArgumentParser) -> None:
    """Model, preset, config file, seed and progress flags."""
    p.add_argument("--config", help='JSON file of PPlugConfig fields (may name a "preset")')
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named preset (default: the CPU preset)")
    p.add_argument("--llm", help="frozen LLM: offline default or a Hugging Face name")
    p.add_argument("--encoder", help="sentence encoder: offline default or a Hugging Face name")
    p.add_argument("--seed", type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_sizes(p: argparse.ArgumentParser) -> None:
    """The run-size overrides shared by train, demo and compare."""
    p.add_argument("--epochs", type=positive_float)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--max-train-examples", type=nonnegative_int, help="0: all")
    p.add_argument("--max-dev-examples", type=nonnegative_int, help="0: all")

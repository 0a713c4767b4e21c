"""Arguments shared by the model commands, and the run config they make."""

from __future__ import annotations

import argparse

from ..config import PRESETS, PPlugConfig
from ..lamp.tasks import get_task


def _number(text: str, cast: type, ok, rule: str):
    """text as an int or float that satisfies ok(value), else an argparse error that states the rule."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'a whole number' if cast is int else 'a number'}, got '{text}'"
        ) from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _number(text, int, lambda v: v >= 1, "at least 1")


def nonnegative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (0 usually means "all" or "off")."""
    return _number(text, int, lambda v: v >= 0, "at least 0")


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    return _number(text, float, lambda v: 0 < v < float("inf"), "a finite number above 0")


def apply_threads() -> None:
    """torch's CPU threads from $MINIPPLUG_THREADS (engine.stack.apply_threads: torch loads only with a model)."""
    from ..engine.stack import apply_threads as set_torch_threads

    set_torch_threads()


def config_from_args(args: argparse.Namespace, default_preset: str = "cpu-fast") -> PPlugConfig:
    """The run's config: --preset (or the command's default preset), a --config file over it, then the flags."""
    cfg = PPlugConfig.preset(getattr(args, "preset", None) or default_preset)
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
    p.add_argument(
        "--preset", choices=sorted(PRESETS), help="a named preset (default: cpu-auto for train, cpu-fast otherwise)"
    )
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

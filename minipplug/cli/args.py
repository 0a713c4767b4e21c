"""Arguments shared by the model commands, and the run config they make."""

from __future__ import annotations

import argparse

from ..config import PRESETS, PPlugConfig, read_config_file
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


FLAGS = (
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
)  # the command-line flags that set a PPlugConfig field of the same name


def run_config(args: argparse.Namespace, default_preset: str = "cpu-fast") -> tuple[PPlugConfig, str, set[str]]:
    """(the run's config, the preset it starts from, the fields set over that preset by --config or a flag).

    The preset: the one the --config file names, else --preset, else the command's default preset.
    """
    doc = read_config_file(args.config) if getattr(args, "config", None) else {}
    preset = doc.get("preset") or getattr(args, "preset", None) or default_preset
    cfg = PPlugConfig.from_doc(doc, PPlugConfig.preset(preset), where=getattr(args, "config", None) or "config")
    overrides = {k: getattr(args, k) for k in FLAGS if getattr(args, k, None) is not None}
    if getattr(args, "task", None):
        overrides["task"] = get_task(args.task).name
    if getattr(args, "quiet", False):
        overrides["progress"] = False
    return cfg.replace(**overrides), preset, (set(doc) - {"preset"}) | set(overrides)


def config_from_args(args: argparse.Namespace, default_preset: str = "cpu-fast") -> PPlugConfig:
    """The run's config: --preset (or the command's default preset), a --config file over it, then the flags."""
    return run_config(args, default_preset)[0]


def preset_help(default: str) -> str:
    """--preset's help: every preset of config.PRESETS with its one-line description."""
    listed = "; ".join(f"{name}: {p.about}" for name, p in PRESETS.items())
    return f"a named preset (default: {default}). {listed}"


def add_common(p: argparse.ArgumentParser, default_preset: str = "cpu-fast") -> None:
    """Model, preset, config file, seed and progress flags."""
    p.add_argument("--config", help='JSON file of PPlugConfig fields (may name a "preset")')
    p.add_argument("--preset", choices=list(PRESETS), help=preset_help(default_preset))
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

"""Arguments shared by the model commands, and the run config they make."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..config import PRESETS, PPlugConfig, read_config_file
from ..lamp.tasks import get_task

if TYPE_CHECKING:
    from ..engine.autostop import AutoLength


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


TRAIN_MINUTES = 20.0  # train's and compare's default time cap of each automatic-length training


def add_length_args(p: argparse.ArgumentParser, max_minutes: float) -> None:
    """How a preset with automatic length (cpu-auto) stops without --epochs: train's, demo's and compare's flags."""
    p.add_argument("--max-epochs", type=float, default=8.0, help="without --epochs: the epoch cap (default 8)")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=max_minutes,
        help=f"without --epochs: the time cap of each training (default {max_minutes:g})",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=3,
        help="without --epochs: validation checks without a gain before stopping (default 3)",
    )
    p.add_argument(
        "--validation-share",
        type=float,
        default=0.15,
        help="without --epochs: share of the training users held out for validation (default 0.15)",
    )


def auto_length(args: argparse.Namespace, cfg: PPlugConfig, preset: str, given: set[str]) -> AutoLength | None:
    """How the command's trainings decide their length, printed: None for a fixed epoch count; else the rule.

    Only a preset marked auto_length (cpu-auto) decides the length itself, and only when no epoch count is
    given (--epochs, or "epochs" in --config); any other preset trains its own epochs as they are.
    """
    from ..engine.autostop import MAX_VALIDATION, AutoLength

    if not PRESETS[preset].auto_length or "epochs" in given:
        why = "given" if "epochs" in given else f"preset '{preset}'"
        print(f"length: {cfg.epochs:g} epochs ({why}), no validation split")
        return None
    auto = AutoLength(
        args.validation_share, patience=args.patience, max_epochs=args.max_epochs, max_seconds=60 * args.max_minutes
    )
    print(
        f"length: chosen on validation users (preset '{preset}' without --epochs): {auto.share:.0%} of the "
        f"training users held out after --max-train-examples, at most {MAX_VALIDATION} questions, checked twice "
        f"per epoch; stop after {auto.patience} checks without a gain, or at {auto.max_epochs:g} epochs "
        f"(--max-epochs) or {args.max_minutes:g} minutes (--max-minutes)"
    )
    return auto

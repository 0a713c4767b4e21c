"""`minipplug train`, `predict` and `demo`: the commands that load the models."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_text
from ..config import PRESETS, TRAIN_PRESET, PPlugConfig
from ..errors import InputError
from ..lamp.data import load_examples, write_outputs
from ..lamp.tasks import get_task

if TYPE_CHECKING:
    from ..engine.autostop import AutoLength
    from ..engine.methods import Method
from .args import (
    TRAIN_MINUTES,
    add_common,
    add_length_args,
    add_sizes,
    apply_threads,
    auto_length,
    config_from_args,
    nonnegative_int,
    positive_int,
    run_config,
)

# The time cap of each of the demo's two trainings: with 4 minutes two fresh-clone demos took 560 s and 602 s on 2
# cores, with 3.75 one took 590 s (PPlug 0.933), inside the 10 minutes the whole command should take.
DEMO_MINUTES = 3.75


def check_out_file(path: str) -> None:
    """Refuse an output path that is a folder or in a missing folder, before any model loads."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path}: --out names a folder; give a file name for the predictions")
    if not p.parent.exists():
        raise InputError(f"{path}: the folder {p.parent} does not exist")


def check_out_dir(path: str, resume: bool) -> None:
    """Refuse a checkpoint folder that is a file, or a --resume without a state to resume, before any model loads."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{path}: --out names an existing file; give a folder for the checkpoint")
    if resume:
        from ..engine.train import read_training_state

        read_training_state(p, check_only=True)  # a missing, corrupt or pickled state: one line naming the file


def _load_train_data(args: argparse.Namespace, cfg: PPlugConfig) -> tuple[list, list | None]:
    """(training examples, dev examples or None) from the files the train command names."""
    train_ex = load_examples(cfg.task, args.train_questions, args.train_outputs)
    if not args.dev_questions:
        return train_ex, None
    if not args.dev_outputs:
        raise InputError("--dev-questions needs --dev-outputs")
    dev_ex = load_examples(cfg.task, args.dev_questions, args.dev_outputs)
    return train_ex, dev_ex[: cfg.max_dev_examples] if cfg.max_dev_examples else dev_ex


def _train_summary(args: argparse.Namespace, cfg: PPlugConfig, stack, result, dev_ex: list | None) -> dict:
    """The JSON line train ends with (and dev_results.json when there is a dev set)."""
    from ..engine.methods import get_method, method_examples
    from ..engine.report import public, result_row

    out = Path(args.out)
    summary = {
        "method": args.method,
        "task": cfg.task,
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "checkpoint": str(out),
        "final_train_loss": round(result.losses[-1][1], 4) if result.losses else None,
    }
    if dev_ex:
        tok, window, method = stack.plm.tokenizer, cfg.max_input_tokens, get_method(args.method)
        reads = dict(tokenizer=tok, max_input_tokens=window, hist=stack.hist, seed=cfg.seed)
        dev_ex = method_examples(method, dev_ex, stack.task, **reads)
        run = dict(decoding=cfg.decoding, progress=cfg.progress, train_seconds=result.seconds)
        row = result_row(stack, dev_ex, method, plug=result.plug, **run)
        summary["dev"] = public(row)
        atomic_write_text(out / "dev_results.json", json.dumps([public(row)], indent=1, allow_nan=False) + "\n")
    if result.autostop is not None:
        print(result.autostop.summary())
        summary["autostop"] = result.autostop.summary()
        summary["validation_checks"] = [{"step": st, "loss": round(v, 4)} for st, v, _ in result.autostop.checks]
    return summary


def _cmd_train(args: argparse.Namespace) -> int:
    """CLI -> config and data -> the loaded models (stack) -> train (-> autostop) -> the saved folder."""
    check_out_dir(args.out, args.resume)
    cfg, preset, given = run_config(args, default_preset=TRAIN_PRESET)
    train_ex, dev_ex = _load_train_data(args, cfg)
    # Imported once the input is known to be good: a mistake is reported before torch loads (~1.5 s).
    from ..course.plots import plot_losses
    from ..engine.stack import load_stack
    from ..engine.train import train

    apply_threads()
    stack = load_stack(cfg)
    changed = ", ".join(f"{k}={getattr(cfg, k)}" for k in sorted(given - {"task", "progress"}))
    print(f"recipe: preset '{preset}' ({PRESETS[preset].about})" + (f"; set here: {changed}" if changed else ""))
    auto = auto_length(args, cfg, preset, given)
    out = Path(args.out)
    result = train(
        stack, train_ex, dev_ex, args.method, out_dir=out, resume=args.resume, save_every=args.save_every, auto=auto
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under `accelerate launch` / torchrun, the main process evaluates and reports
    title = f"{args.method} on {cfg.task}: training loss"
    plot_losses({args.method: result.losses}, title=title, path=out / "loss.png")
    print(json.dumps(_train_summary(args, cfg, stack, result, dev_ex)))
    return 0


def checkpoint_config(args: argparse.Namespace, method: Method) -> PPlugConfig:
    """The config predict runs: the checkpoint's (checked to be trained as the method), or the flags' without one."""
    from ..model.plug import check_plug_files, trained_as

    if method.name == "lora-per-user":
        raise InputError(
            "--method lora-per-user trains one adapter per user; run it with `minipplug compare "
            "--methods lora-per-user` (predict does not train)"
        )
    if method.family == "rule":
        raise InputError(
            f"--method {method.name} is a rule that answers without the LLM; score it beside the others with "
            f"`minipplug compare --methods {method.name}`"
        )
    if not args.checkpoint:
        if method.plug_method:
            raise InputError(
                f"--method {method.name} needs --checkpoint DIR (a plug trained with "
                f"`minipplug train --method {method.plug_method}`)"
            )
        return config_from_args(args)
    info = check_plug_files(args.checkpoint)
    if method.plug_method and trained_as(info) != method.plug_method:
        raise InputError(
            f"{args.checkpoint}: this plug was trained as {trained_as(info)}, not {method.plug_method}; use "
            f"--method {trained_as(info)} or train one with `minipplug train --method {method.plug_method}`"
        )
    return PPlugConfig.from_dict(info["config"])


def _cmd_predict(args: argparse.Namespace) -> int:
    from ..engine.methods import get_method, method_examples
    from ..engine.predict import check_decoding, predict
    from ..engine.report import answering_llm, result_row
    from ..engine.stack import load_stack, open_plug

    method = get_method(args.method)
    check_out_file(args.out)
    apply_threads()
    cfg = checkpoint_config(args, method)
    task = get_task(args.task or cfg.task)
    beams = {"num_beams": args.num_beams} if args.num_beams else {}
    cfg = cfg.replace(task=task.name, decoding=args.decoding, progress=not args.quiet, **beams)
    check_decoding(args.decoding, task)
    examples = load_examples(task, args.questions, args.outputs)
    stack = load_stack(cfg)
    plug = open_plug(stack, args.checkpoint) if method.plug_method else None
    reads = dict(tokenizer=stack.plm.tokenizer, max_input_tokens=cfg.max_input_tokens, hist=stack.hist, seed=cfg.seed)
    examples = method_examples(method, examples, task, **reads)
    if examples[0].target is not None:
        row = result_row(stack, examples, method, plug=plug, decoding=args.decoding, progress=cfg.progress)
        answers = row.pop("_answers")
        print(json.dumps(row, allow_nan=False))
    else:
        # bf16_llm: the same precision as result_row's answers, so outputs do not depend on whether golds came along
        run = dict(decoding=args.decoding, batch_size=cfg.eval_batch_size, num_beams=cfg.num_beams)
        run["bf16_llm"] = answering_llm(stack)
        prediction = predict(examples, task, stack.plm, plug=plug, hist=stack.hist, history=method.history, **run)
        answers = prediction.answers
    write_outputs(args.out, task, answers)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..course.plots import plot_losses
    from ..engine.demo import run_demo

    out = Path(args.out)
    cfg, preset, given = run_config(args, default_preset=TRAIN_PRESET)
    apply_threads()
    print(f"recipe: preset '{preset}' ({PRESETS[preset].about})")
    cfg, auto = demo_length(args, cfg, preset, given)
    result = run_demo(out, cfg, auto=auto)
    plot_losses(
        result.curves,
        title="PPlug vs its no-history control: training loss (LaMP_2-style sample)",
        path=out / "loss.png",
    )
    print(f"wrote {out / 'loss.png'}")
    return 0


def demo_length(
    args: argparse.Namespace, cfg: PPlugConfig, preset: str, given: set[str]
) -> tuple[PPlugConfig, AutoLength | None]:
    """(the demo's config, its length rule), printed: cpu-auto's automatic length under the demo's time cap, except
    where training falls back to fp32 on a CPU without native bf16. There a step is 3-7x slower, so the cap would
    stop each plug after ~40 steps on a schedule planned for 8 epochs (PPlug 0.108, docs/performance.md); the demo
    trains notebook 03's fp32 length instead, a fixed 1.5 epochs with the learning rate decaying over them."""
    from ..course.notebook import FAST_SIZES
    from ..engine.train import pick_precision

    fp32_fallback = cfg.precision == "auto" and pick_precision(cfg) == "no"
    default_cap = args.max_minutes == DEMO_MINUTES  # a cap the user chose (--max-minutes) keeps the automatic length
    if not (fp32_fallback and default_cap and PRESETS[preset].auto_length and "epochs" not in given):
        return cfg, auto_length(args, cfg, preset, given)
    epochs = FAST_SIZES["no"].epochs
    print(
        f"length: {epochs:g} epochs, notebook 03's in fp32: with no native bf16 here each step runs in fp32, "
        f"several times slower, and the {args.max_minutes:g}-minute cap would stop each plug before it learns "
        "(--epochs sets another length, --max-minutes keeps the automatic one)"
    )
    return cfg.replace(epochs=epochs), None


def _add_train_command(sub) -> None:
    """The train command's arguments."""
    from ..engine.methods import TRAINABLE

    tr = sub.add_parser("train", help="train a plug (only the plug; the LLM stays frozen)")
    tr.add_argument("--task", required=True)
    tr.add_argument("--train-questions", required=True)
    tr.add_argument("--train-outputs", required=True)
    tr.add_argument("--dev-questions")
    tr.add_argument("--dev-outputs")
    tr.add_argument("--out", required=True, help="checkpoint folder")
    tr.add_argument(
        "--method",
        default="pplug",
        choices=list(TRAINABLE),
        help="PPlug, its no-history control or one of the paper's variants",
    )
    tr.add_argument("--lr", type=float)
    add_sizes(tr)
    tr.add_argument(
        "--history-dropout-copies", type=int, help="history-dropout augmentation: extra copies per example (0: off)"
    )
    tr.add_argument("--precision", choices=["auto", "bf16", "fp32"])
    add_length_args(tr, max_minutes=TRAIN_MINUTES)
    tr.add_argument(
        "--eval-every", type=nonnegative_int, help="dev loss every N optimizer steps (default: at the end only)"
    )
    tr.add_argument(
        "--save-every",
        type=positive_int,
        default=0,
        help="write a resumable checkpoint to --out every N optimizer steps (default: at the end only)",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run saved in --out (same data and settings): ends with the same plug",
    )
    add_common(tr, default_preset=TRAIN_PRESET)
    tr.set_defaults(func=_cmd_train)


def add_model_commands(sub) -> None:
    """Register train, predict and demo on the CLI's sub-command parser."""
    _add_train_command(sub)
    _add_predict_and_demo(sub)


def _add_predict_and_demo(sub) -> None:
    """Register predict and demo on the CLI's sub-command parser."""
    from ..engine.methods import method_help

    pr = sub.add_parser("predict", help="write LaMP-format predictions")
    pr.add_argument("--questions", required=True)
    pr.add_argument("--outputs", help="golds: when given, the official metrics are printed too")
    pr.add_argument("--out", required=True, help="predictions file (LaMP outputs format)")
    pr.add_argument("--checkpoint", help="a trained plug folder")
    pr.add_argument("--task", help="default: the checkpoint's task")
    pr.add_argument("--method", default="pplug", help=method_help())
    pr.add_argument("--decoding", default="generate", choices=["generate", "rank"])
    pr.add_argument("--num-beams", type=int)
    add_common(pr)
    pr.set_defaults(func=_cmd_predict)

    de = sub.add_parser("demo", help="train PPlug and its no-history control on the bundled sample, compare, plot")
    de.add_argument("--out", default="runs/demo")
    add_sizes(de)
    add_length_args(de, max_minutes=DEMO_MINUTES)
    add_common(de, default_preset=TRAIN_PRESET)
    de.set_defaults(func=_cmd_demo)

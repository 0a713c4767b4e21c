"""The model commands of the CLI: train, predict, demo (compare lives in compare.py)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .config import PRESETS, PPlugConfig
from .data import atomic_write_text, load_examples, write_outputs
from .tasks import get_task



def _config_from_args(args) -> PPlugConfig:
    cfg = PPlugConfig.preset(args.preset) if getattr(args, "preset", None) else PPlugConfig()
    if getattr(args, "config", None):
        cfg = PPlugConfig.from_file(args.config, base=cfg)
    overrides = {k: v for k, v in {
        "task": getattr(args, "task", None), "epochs": getattr(args, "epochs", None), "lr": getattr(args, "lr", None),
        "batch_size": getattr(args, "batch_size", None), "seed": getattr(args, "seed", None),
        "llm": getattr(args, "llm", None), "encoder": getattr(args, "encoder", None),
        "max_train_examples": getattr(args, "max_train_examples", None), "max_dev_examples": getattr(args, "max_dev_examples", None),
        "history_dropout_copies": getattr(args, "history_dropout_copies", None), "precision": getattr(args, "precision", None),
        "eval_every": getattr(args, "eval_every", None),
    }.items() if v is not None}
    if getattr(args, "task", None):
        overrides["task"] = get_task(args.task).name
    if getattr(args, "quiet", False):
        overrides["progress"] = False
    return cfg.replace(**overrides)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="JSON file of PPlugConfig fields (may name a \"preset\")")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named preset (default: the CPU preset)")
    p.add_argument("--llm", help="frozen LLM: offline default or a Hugging Face name")
    p.add_argument("--encoder", help="sentence encoder: offline default or a Hugging Face name")
    p.add_argument("--seed", type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_sizes(p: argparse.ArgumentParser) -> None:
    """The run-size overrides shared by train, demo and compare."""
    p.add_argument("--epochs", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-train-examples", type=int)
    p.add_argument("--max-dev-examples", type=int)


def _cmd_train(args) -> int:
    from .baselines import method_examples, predict_method
    from .pipeline import load_stack, public, result_row, train
    from .plots import plot_losses

    cfg = _config_from_args(args)
    train_ex = load_examples(cfg.task, args.train_questions, args.train_outputs)
    dev_ex = None
    if args.dev_questions:
        if not args.dev_outputs:
            raise ValueError("--dev-questions needs --dev-outputs")
        dev_ex = load_examples(cfg.task, args.dev_questions, args.dev_outputs)
        if cfg.max_dev_examples:
            dev_ex = dev_ex[: cfg.max_dev_examples]
    stack = load_stack(cfg)
    out = Path(args.out)
    result = train(stack, train_ex, dev_ex, args.method, out_dir=out)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under `accelerate launch` / torchrun, the main process evaluates and reports
    plot_losses({args.method: result.losses}, title=f"{args.method} on {cfg.task}: training loss", path=out / "loss.png")
    summary = {"method": args.method, "task": cfg.task, "steps": result.steps, "train_seconds": round(result.seconds, 1),
               "final_train_loss": round(result.losses[-1][1], 4) if result.losses else None, "checkpoint": str(out)}
    if dev_ex:
        dev_ex = method_examples(args.method, dev_ex, cfg.task, stack.plm.tokenizer, cfg.max_input_tokens, stack.hist)
        row = result_row(stack, dev_ex, cfg.task, predict_method(args.method), result.plug, cfg.decoding,
                         progress=cfg.progress, label=args.method, train_seconds=result.seconds)
        summary["dev"] = public(row)
        atomic_write_text(out / "dev_results.json", json.dumps([public(row)], indent=1) + "\n")
    print(json.dumps(summary))
    return 0


def _cmd_predict(args) -> int:
    from .baselines import check_method, method_prompts, needs_training
    from .pipeline import load_stack, open_plug, result_row
    from .plug import read_plug_config, trained_as

    method = check_method(args.method)
    if args.checkpoint:
        info = read_plug_config(args.checkpoint)
        if needs_training(method) and trained_as(info) != method:
            raise ValueError(f"{args.checkpoint}: this plug was trained as {trained_as(info)}, not {method}; use --method "
                             f"{trained_as(info)} or train one with `minipplug train --method {method}`")
        cfg = PPlugConfig.from_dict(info["config"])
    elif needs_training(method):
        raise ValueError(f"--method {method} needs --checkpoint DIR (a plug trained with `minipplug train`)")
    else:
        cfg = _config_from_args(args)
    task = get_task(args.task).name if args.task else cfg.task
    cfg = cfg.replace(task=task, decoding=args.decoding, progress=not args.quiet, **({"num_beams": args.num_beams} if args.num_beams else {}))
    examples = load_examples(task, args.questions, args.outputs)
    stack = load_stack(cfg)
    plug = open_plug(stack, args.checkpoint) if needs_training(method) else None
    prompts, mode = method_prompts(stack, examples, task, method)
    if examples[0].target is not None:
        row = result_row(stack, examples, task, mode, plug, args.decoding, progress=cfg.progress, prompts=prompts, label=method)
        answers = row.pop("_answers")
        print(json.dumps(row))
    else:
        from .predict import predict

        answers = predict(examples, task, stack.plm, plug, stack.hist, mode, args.decoding, cfg.eval_batch_size,
                          cfg.num_beams, prompts=prompts, progress=cfg.progress).answers
    write_outputs(args.out, task, answers)
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    cfg = _config_from_args(args)
    run_demo(Path(args.out), cfg)
    return 0


def add_model_commands(sub) -> None:
    """Register train, predict and demo on the CLI's sub-command parser."""
    from .baselines import PPLUG_VARIANTS

    tr = sub.add_parser("train", help="train a plug (only the plug; the LLM stays frozen)")
    tr.add_argument("--task", required=True)
    tr.add_argument("--train-questions", required=True)
    tr.add_argument("--train-outputs", required=True)
    tr.add_argument("--dev-questions")
    tr.add_argument("--dev-outputs")
    tr.add_argument("--out", required=True, help="checkpoint folder")
    tr.add_argument("--method", default="pplug", choices=list(PPLUG_VARIANTS),
                    help="PPlug, its no-history control or one of the paper's variants")
    tr.add_argument("--lr", type=float)
    _add_sizes(tr)
    tr.add_argument("--history-dropout-copies", type=int, help="history-dropout augmentation: extra copies per example (0: off)")
    tr.add_argument("--precision", choices=["auto", "bf16", "fp32"])
    tr.add_argument("--eval-every", type=int, help="dev loss every N optimizer steps (default: at the end only)")
    _add_common(tr)
    tr.set_defaults(func=_cmd_train)

    pr = sub.add_parser("predict", help="write LaMP-format predictions")
    pr.add_argument("--questions", required=True)
    pr.add_argument("--outputs", help="golds: when given, the official metrics are printed too")
    pr.add_argument("--out", required=True, help="predictions file (LaMP outputs format)")
    pr.add_argument("--checkpoint", help="a trained plug folder")
    pr.add_argument("--task", help="default: the checkpoint's task")
    pr.add_argument("--method", default="pplug", help="pplug, pplug-no-history, non-personalized, bm25-k4, recency-k4, "
                    "dense-k4, pplug+retrieval, pplug-mean-pooling, pplug-no-instruction, pplug-top4")
    pr.add_argument("--decoding", default="generate", choices=["generate", "rank"])
    pr.add_argument("--num-beams", type=int)
    _add_common(pr)
    pr.set_defaults(func=_cmd_predict)

    de = sub.add_parser("demo", help="train PPlug and its no-history control on the bundled sample, compare, plot")
    de.add_argument("--out", default="runs/demo")
    _add_sizes(de)
    _add_common(de)
    de.set_defaults(func=_cmd_demo)

    from .compare import add_compare_command

    add_compare_command(sub)

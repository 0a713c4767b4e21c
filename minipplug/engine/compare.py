"""`minipplug compare`: every method side by side on one frozen LLM, with quality and cost."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import atomic_write_text
from ..config import PPlugConfig
from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import metric_keys
from ..lamp.tasks import get_task
from ..model.plug import PersonaPlug, read_plug_config, trained_as
from .methods import COMPARE_METHODS, get_method, method_examples, variant_config
from .report import PeakMemory, markdown_table, public, result_row
from .stack import Stack, open_plug
from .train import train


def decodings_for(task: str, method: str, pplug_rank: bool = False) -> list[str]:
    """Both decodings for the zero-shot and retrieval rows of classification tasks; generate otherwise."""
    if get_task(task).kind == "generation":
        return ["generate"]
    if get_method(method).trains_plug and not pplug_rank:
        return ["generate"]
    return ["generate", "rank"]


def run_compare(
    stack: Stack,
    train_ex: list[Example],
    dev_ex: list[Example],
    out: str | os.PathLike | None = None,
    methods: tuple[str, ...] | list[str] = COMPARE_METHODS,
    checkpoint: str | os.PathLike | None = None,
    pplug_rank: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Train what needs training (or reuse a pplug checkpoint), evaluate every method on dev, write the results.

    A counterfactual (pplug-swapped-history) runs the pplug plug of this comparison, trained once.
    """
    cfg, task = stack.cfg, stack.cfg.task
    out = Path(out) if out else None
    tok, window = stack.plm.tokenizer, cfg.max_input_tokens
    rows: list[dict] = []
    plugs: dict[str, tuple[PersonaPlug, float | None, float]] = {}  # trained plug, train seconds, peak MB

    def plug_for(name: str) -> tuple[PersonaPlug, float | None, float]:
        if name not in plugs:
            saved = out / "plugs" / name if out else None
            if name == "pplug" and checkpoint:
                plugs[name] = (open_plug(stack, checkpoint), None, float("nan"))
            elif saved is not None and reusable(saved, variant_config(cfg, name), name):
                # An earlier run (demo or compare) already trained this plug with the same config: reuse it.
                plugs[name] = (open_plug(stack, saved), read_plug_config(saved).get("train_seconds"), float("nan"))
            else:
                with PeakMemory() as mem:
                    result = train(stack, train_ex, None, name, out_dir=saved)
                plugs[name] = (result.plug, result.seconds, mem.mb)
        return plugs[name]

    for method in [get_method(m) for m in methods]:
        if method.name == "lora-per-user":
            rows.extend(_lora_rows(stack, dev_ex, task, rows, progress))
            continue
        plug, train_seconds, train_memory = None, None, float("nan")
        if method.trains_plug:
            plug, train_seconds, train_memory = plug_for(method.plug_name)
            if method.plug_of:  # runs another method's plug: it trains nothing of its own
                train_seconds, train_memory = None, float("nan")
        dev = method_examples(method.name, dev_ex, task, tok, window, stack.hist, seed=cfg.seed)
        for decoding in decodings_for(task, method.name, pplug_rank):
            row = result_row(
                stack, dev, task, method.name, plug, decoding, progress=progress, train_seconds=train_seconds
            )
            if train_memory == train_memory:  # NaN: reused or not trained here, so not measured
                row["train_peak_memory_mb"] = round(train_memory, 1)
            rows.append(row)
            if progress:
                print(json.dumps(public(row)), flush=True)
    if out:
        write_report(rows, out)
    return rows


def _lora_rows(stack: Stack, dev_ex: list[Example], task: str, rows: list[dict], progress: bool) -> list[dict]:
    """The lora-per-user row (a few users), with PPlug's score on exactly the same questions beside it."""
    from ..lamp.metrics import score
    from .lora_per_user import lora_per_user_row

    if get_task(task).item_pair is None:
        if progress:
            print(f"lora-per-user: skipped ({task} profiles hold no input/output pairs to fine-tune on)")
        return []
    row = lora_per_user_row(stack.plm, dev_ex, task)
    key = metric_keys(task)[0]
    golds = {e.id: e.target for e in dev_ex if e.id in row["_answers"]}
    for r in rows:
        if r["method"] == "pplug" and r["decoding"] == "generate":
            row[f"pplug_{key}_same_examples"] = round(score(task, {i: r["_answers"][i] for i in golds}, golds)[key], 4)
    if progress:
        print(json.dumps(public(row)), flush=True)
    return [row]


def reusable(folder: Path, cfg: PPlugConfig, method: str) -> bool:
    """Whether folder holds a plug trained as this method with the same training fields of the config."""
    try:
        info = read_plug_config(folder)
        saved = PPlugConfig.from_dict(info["config"]).training_fields()
    except (FileNotFoundError, InputError):  # no checkpoint, or one this version cannot read: train anew
        return False
    return saved == cfg.training_fields() and trained_as(info) == method


def write_report(rows: list[dict], out: Path) -> None:
    """results.json and results.md in out (the CLI adds the plot)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps([public(r) for r in rows], indent=1) + "\n")
    atomic_write_text(out / "results.md", markdown_table(rows) + "\n")

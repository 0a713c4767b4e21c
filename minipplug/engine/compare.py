"""`minipplug compare`: every method side by side on one frozen LLM, with quality and cost."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..atomic import atomic_write_text
from ..config import PPlugConfig
from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import metric_keys, score
from ..lamp.tasks import TaskSpec
from ..model.plug import PersonaPlug, read_plug_config, trained_as
from .autostop import AutoLength
from .methods import COMPARE_METHODS, METHODS, Method, get_method, method_examples, rule_skip_reason, variant_config
from .report import PeakMemory, markdown_table, public, result_row, rule_row
from .stack import Stack, open_plug
from .train import train


def decodings_for(task: TaskSpec, method: Method, pplug_rank: bool = False) -> list[str]:
    """Both decodings for the zero-shot and retrieval rows of classification tasks; generate otherwise."""
    if task.kind == "generation":
        return ["generate"]
    if method.plug_method and not pplug_rank:
        return ["generate"]
    return ["generate", "rank"]


def plug_dir(out: Path, method: str) -> Path:
    """Where a comparison (or the demo) in folder out keeps the plug it trained for method."""
    return Path(out) / "plugs" / method


@dataclass
class TrainedPlug:
    """A plug a comparison runs, with what training it cost here (None / NaN: reused, not measured)."""

    plug: PersonaPlug
    seconds: float | None = None
    peak_memory_mb: float = float("nan")


@dataclass
class PlugShelf:
    """The plugs of one comparison, each trained (or loaded) once, whichever rows run it."""

    stack: Stack
    train_ex: list[Example]
    out: Path | None = None
    checkpoint: str | os.PathLike | None = None  # a trained pplug to reuse for the pplug rows
    auto: AutoLength | None = None  # each plug's length chosen on validation users (cpu-auto), as train does
    plugs: dict[str, TrainedPlug] = field(default_factory=dict)

    def get(self, method: Method) -> TrainedPlug:
        """The plug that method runs (trained as method.plug_method)."""
        name = method.plug_method
        if name not in self.plugs:
            self.plugs[name] = self._load_or_train(METHODS[name])
        return self.plugs[name]

    def _load_or_train(self, method: Method) -> TrainedPlug:
        saved = plug_dir(self.out, method.name) if self.out else None
        if method.name == "pplug" and self.checkpoint:
            return TrainedPlug(open_plug(self.stack, self.checkpoint))
        if saved is not None and reusable(saved, variant_config(self.stack.cfg, method), method.name, self.auto):
            # An earlier run (demo or compare) already trained this plug with the same config: reuse it.
            return TrainedPlug(open_plug(self.stack, saved), read_plug_config(saved).get("train_seconds"))
        with PeakMemory() as mem:
            result = train(self.stack, self.train_ex, None, method.name, out_dir=saved, auto=self.auto)
        return TrainedPlug(result.plug, result.seconds, mem.mb)


def run_compare(
    stack: Stack,
    train_ex: list[Example],
    dev_ex: list[Example],
    *,
    out: str | os.PathLike | None = None,
    methods: Sequence[Method] | None = None,
    checkpoint: str | os.PathLike | None = None,
    pplug_rank: bool = False,
    progress: bool = True,
    auto: AutoLength | None = None,
) -> list[dict]:
    """Train what needs training (or reuse a pplug checkpoint), evaluate every method on dev, write the results.

    methods: default COMPARE_METHODS. auto: each plug's length chosen on validation users held out of train_ex
    (cpu-auto without --epochs) instead of the config's epochs. A counterfactual (pplug-swapped-history) runs
    the pplug plug of this comparison, trained once. The rules run on label tasks only (skipped with the reason
    printed otherwise).
    """
    methods = [get_method(m) for m in COMPARE_METHODS] if methods is None else methods
    out = Path(out) if out else None
    shelf = PlugShelf(stack, train_ex, out, checkpoint, auto)
    rows: list[dict] = []
    for method in methods:
        if method.name == "lora-per-user":
            rows.extend(_lora_rows(stack, dev_ex, rows, progress))
        elif method.family == "rule":
            rows.extend(_rule_rows(stack, train_ex, dev_ex, method, progress))
        else:
            rows.extend(method_rows(stack, dev_ex, method, shelf, pplug_rank=pplug_rank, progress=progress))
    if out:
        write_report(rows, out)
    return rows


def method_rows(
    stack: Stack, dev_ex: list[Example], method: Method, shelf: PlugShelf, *, pplug_rank: bool, progress: bool
) -> list[dict]:
    """One method's rows (one per decoding), its plug trained or loaded from the shelf."""
    trained = shelf.get(method) if method.plug_method else None
    # A method that runs another method's plug trains nothing of its own.
    own = trained is not None and method.trains
    cfg = stack.cfg
    tok, window = stack.plm.tokenizer, cfg.max_input_tokens
    dev = method_examples(
        method, dev_ex, stack.task, tokenizer=tok, max_input_tokens=window, hist=stack.hist, seed=cfg.seed
    )
    rows = []
    for decoding in decodings_for(stack.task, method, pplug_rank):
        row = result_row(
            stack,
            dev,
            method,
            plug=trained.plug if trained else None,
            decoding=decoding,
            progress=progress,
            train_seconds=trained.seconds if own else None,
        )
        if own and trained.peak_memory_mb == trained.peak_memory_mb:  # NaN: reused, so not measured
            row["train_peak_memory_mb"] = round(trained.peak_memory_mb, 1)
        rows.append(row)
        if progress:
            print(json.dumps(public(row)), flush=True)
    return rows


def _rule_rows(stack: Stack, train_ex: list[Example], dev_ex: list[Example], method: Method, progress: bool) -> list:
    """A rule's row (no LLM), fitted on the training questions the plugs train on; [] where it cannot answer."""
    task, limit = stack.task, stack.cfg.max_train_examples
    train_ex = train_ex[:limit] if limit else train_ex  # the plugs' training cut (engine.train.train)
    why = rule_skip_reason(method, task, train_ex)
    if why:
        if progress:
            print(f"{method.name}: skipped ({why})")
        return []
    row = rule_row(task, method, train_ex, dev_ex)
    if progress:
        print(json.dumps(public(row)), flush=True)
    return [row]


def _lora_rows(stack: Stack, dev_ex: list[Example], rows: list[dict], progress: bool) -> list[dict]:
    """The lora-per-user row (a few users), with PPlug's score on exactly the same questions beside it."""
    from .lora_per_user import lora_per_user_row

    task = stack.task
    if task.item_pair is None:
        if progress:
            print(f"lora-per-user: skipped ({task.name} profiles hold no input/output pairs to fine-tune on)")
        return []
    row = lora_per_user_row(stack.plm, dev_ex, task, seed=stack.cfg.seed)  # each training seed, its own adapters
    key = metric_keys(task)[0]
    golds = {e.id: e.target for e in dev_ex if e.id in row["_answers"]}
    for r in rows:
        if r["method"] == "pplug" and r["decoding"] == "generate":
            row[f"pplug_{key}_same_examples"] = round(score(task, {i: r["_answers"][i] for i in golds}, golds)[key], 4)
    if progress:
        print(json.dumps(public(row)), flush=True)
    return [row]


def reusable(folder: Path, cfg: PPlugConfig, method: str, auto: AutoLength | None = None) -> bool:
    """Whether folder holds a plug trained as this method with the same training fields of the config, and
    with the same kind of length: a fixed epoch count, or chosen on validation users (auto)."""
    try:
        info = read_plug_config(folder)
        saved = PPlugConfig.from_dict(info["config"]).training_fields()
    except (FileNotFoundError, InputError):  # no checkpoint, or one this version cannot read: train anew
        return False
    if auto is not None:
        cfg = cfg.replace(epochs=auto.max_epochs)  # train saves an automatic run's config with its epoch cap
    same_length = info.get("length", "epochs") == ("auto" if auto is not None else "epochs")
    return saved == cfg.training_fields() and trained_as(info) == method and same_length


def write_report(rows: list[dict], out: Path) -> None:
    """results.json and results.md in out (the CLI adds the plot)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps([public(r) for r in rows], indent=1) + "\n")
    atomic_write_text(out / "results.md", markdown_table(rows) + "\n")

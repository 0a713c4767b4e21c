"""`minipplug demo`: PPlug against its no-history control, the swapped-history counterfactual, the zero-shot
LLM and the one-line rules on the bundled LaMP_2-style sample."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from ..config import PPlugConfig
from ..lamp.data import load_examples, spread
from ..lamp.samples import sample_paths
from ..lamp.tasks import get_task
from .autostop import AutoLength
from .compare import plug_dir
from .methods import METHODS, RULES, method_examples
from .report import markdown_table, public, result_row, rule_row
from .stack import load_stack
from .train import train


@dataclass
class DemoResult:
    """The demo's results rows, its training curves and the dev oracle of the sample."""

    rows: list[dict]
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    oracle: dict | None = None


def run_demo(
    out: Path, cfg: PPlugConfig | None = None, sample: str = "lamp2_tags", auto: AutoLength | None = None
) -> DemoResult:
    """Train pplug and pplug-no-history; evaluate them, the swapped counterfactual, the zero-shot LLM and the rules
    (input-only fitted on the questions the plugs train on) on dev. auto: each plug's length chosen on validation
    users held out of the training questions (cpu-auto), instead of cfg.epochs."""
    t0 = time.perf_counter()
    cfg = (cfg or PPlugConfig()).replace(task="LaMP_2")
    paths = sample_paths(sample)
    task = get_task(cfg.task)
    train_ex = load_examples(task, paths["train_questions"], paths["train_outputs"])
    dev_ex = load_examples(task, paths["dev_questions"], paths["dev_outputs"])
    if cfg.max_dev_examples:
        dev_ex = spread(dev_ex, cfg.max_dev_examples)  # as many users as possible: the swapped row needs two
    print(f"demo: {len(train_ex)} train / {len(dev_ex)} dev examples ({sample}), LLM {cfg.llm}, encoder {cfg.encoder}")
    stack = load_stack(cfg)
    result = DemoResult(rows=[])
    plugs = {}
    for method in (METHODS["pplug"], METHODS["pplug-no-history"]):
        ckpt = plug_dir(out, method.name)  # `minipplug compare --out` on the same folder reuses these
        trained = train(stack, train_ex, None, method.name, out_dir=ckpt, auto=auto)
        plugs[method.name] = trained.plug
        result.curves[method.name] = trained.losses
        run = dict(decoding=cfg.decoding, progress=cfg.progress, train_seconds=trained.seconds)
        row = result_row(stack, dev_ex, method, plug=trained.plug, **run)
        result.rows.append(row)
        accuracy = row["accuracy"]
        print(f"  {method.name}: trained {trained.steps} steps in {trained.seconds:.0f} s, dev accuracy {accuracy:.3f}")
    swapped = METHODS["pplug-swapped-history"]
    swapped_dev = method_examples(swapped, dev_ex, task, seed=cfg.seed)
    row = result_row(stack, swapped_dev, swapped, plug=plugs["pplug"], decoding=cfg.decoding, progress=cfg.progress)
    result.rows.insert(1, row)
    zero_shot = result_row(stack, dev_ex, METHODS["non-personalized"], decoding=cfg.decoding, progress=cfg.progress)
    result.rows.append(zero_shot)
    fitted_on = train_ex[: cfg.max_train_examples] if cfg.max_train_examples else train_ex
    result.rows += [rule_row(task, METHODS[name], fitted_on, dev_ex) for name in RULES]
    summary_file = paths["dev_outputs"].parent / "summary.json"
    result.oracle = json.loads(summary_file.read_text()).get("dev_oracle") if summary_file.exists() else None
    write_demo_report(result, out)
    print(f"wrote {out / 'results.json'} and checkpoints in {out / 'plugs'} ({time.perf_counter() - t0:.0f} s)")
    return result


def write_demo_report(result: DemoResult, out: Path) -> None:
    """results.json and results.md (the table, with the oracle under it), and the table printed."""
    atomic_write_text(out / "results.json", json.dumps([public(r) for r in result.rows], indent=1) + "\n")
    table = markdown_table(result.rows)
    note = f"\noracle (best possible on this dev set): {result.oracle}\n" if result.oracle else ""
    atomic_write_text(out / "results.md", table + "\n" + note)
    print(table)
    if result.oracle:
        print(f"oracle (best possible on this dev set): accuracy {result.oracle['accuracy']:.3f}")

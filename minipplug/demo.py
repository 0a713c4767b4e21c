"""`minipplug demo`: PPlug against its no-history control and the zero-shot LLM on the bundled LaMP_2-style sample."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .config import PPlugConfig
from .data import atomic_write_text, load_examples
from .pipeline import load_stack, markdown_table, public, result_row, sample_paths, train
from .plots import plot_losses


def run_demo(out: Path, cfg: PPlugConfig | None = None, sample: str = "lamp2_tags") -> list[dict]:
    """Train pplug and pplug-no-history, evaluate them and the non-personalized LLM on dev; write results."""
    t0 = time.perf_counter()
    cfg = (cfg or PPlugConfig()).replace(task="LaMP_2")
    paths = sample_paths(sample)
    train_ex = load_examples(cfg.task, paths["train_questions"], paths["train_outputs"])
    dev_ex = load_examples(cfg.task, paths["dev_questions"], paths["dev_outputs"])
    if cfg.max_dev_examples:
        dev_ex = dev_ex[: cfg.max_dev_examples]
    print(f"demo: {len(train_ex)} train / {len(dev_ex)} dev examples ({sample}), LLM {cfg.llm}, encoder {cfg.encoder}")
    stack = load_stack(cfg)
    rows, curves = [], {}
    for method in ("pplug", "pplug-no-history"):
        ckpt = out / "plugs" / method  # `minipplug compare --out` on the same folder reuses these
        result = train(stack, train_ex, None, method, out_dir=ckpt)
        curves[method] = result.losses
        rows.append(result_row(stack, dev_ex, cfg.task, method, result.plug, cfg.decoding, progress=cfg.progress,
                               train_seconds=result.seconds))
        print(f"  {method}: trained {result.steps} steps in {result.seconds:.0f} s, dev accuracy {rows[-1]['accuracy']:.3f}")
    rows.append(result_row(stack, dev_ex, cfg.task, "non-personalized", None, cfg.decoding, progress=cfg.progress))
    summary_file = paths["dev_outputs"].parent / "summary.json"
    oracle = json.loads(summary_file.read_text()).get("dev_oracle") if summary_file.exists() else None
    atomic_write_text(out / "results.json", json.dumps([public(r) for r in rows], indent=1) + "\n")
    table = markdown_table(rows)
    atomic_write_text(out / "results.md", table + "\n" + (f"\noracle (best possible on this dev set): {oracle}\n" if oracle else ""))
    plot_losses(curves, title="PPlug vs its no-history control: training loss (LaMP_2-style sample)", path=out / "loss.png")
    print(table)
    if oracle:
        print(f"oracle (best possible on this dev set): accuracy {oracle['accuracy']:.3f}")
    print(f"wrote {out / 'results.json'}, {out / 'loss.png'}, checkpoints in {out / 'plugs'} ({time.perf_counter() - t0:.0f} s)")
    return rows

"""Does PPlug + retrieval answer with the tag of the item it retrieved? One seed's plug of a `compare --seeds` run,
its answers set beside the dense top-1 history item's tag, and that copy rule's accuracy without any LLM.

    python benchmarks/retrieval_copy.py runs/seeds_kinds_more lamp2_kinds --seed 0 [--preset cpu-auto]

--preset names the recipe the run was trained with (compare's --preset; default cpu-fast, compare's default).

Writes benchmarks/results/seeds/<sample>/retrieval_copy.json (the run's plugs stay in the run folder).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from record_seeds import SEEDS, machine  # noqa: E402

import minipplug as mp  # noqa: E402
from minipplug.atomic import atomic_write_text  # noqa: E402
from minipplug.config import PRESETS, PPlugConfig  # noqa: E402
from minipplug.engine.retrieval import retrieve  # noqa: E402
from minipplug.engine.stack import apply_threads, open_plug  # noqa: E402
from minipplug.lamp.data import load_examples  # noqa: E402
from minipplug.lamp.rules import item_label, retrieved_label  # noqa: E402

METHOD = "pplug+retrieval"


def dense_top1_labels(stack, dev: list) -> dict[str, str]:
    """Each question's dense top-1 history item's label: what a copy rule over dense retrieval answers."""
    return {e.id: item_label(e.profile[retrieve(e, stack.task, "dense", 1, stack.hist)[0]], stack.task) for e in dev}


def check(run_dir: Path, sample: str, seed: int, preset: str = "cpu-fast") -> dict:
    """The plug's answers against the dense top-1 tags, and the copy rules' accuracies, on every dev question."""
    data = ROOT / "data_samples" / sample
    stack = mp.load_stack(PPlugConfig.preset(preset, task="LaMP_2", seed=seed))  # the run's recipe
    dev = load_examples(stack.task, data / "dev_questions.json", data / "dev_outputs.json")
    method = mp.METHODS[METHOD]
    plug = open_plug(stack, run_dir / f"seed{seed}" / "plugs" / METHOD).eval()
    window, tok = stack.cfg.max_input_tokens, stack.plm.tokenizer
    examples = mp.method_examples(
        method, dev, stack.task, tokenizer=tok, max_input_tokens=window, hist=stack.hist, seed=seed
    )  # as compare builds them
    answers = mp.result_row(stack, examples, method, plug=plug, progress=False)["_answers"]
    dense = dense_top1_labels(stack, dev)
    bm25 = {e.id: retrieved_label(e, stack.task) for e in dev}  # the rule-top1-retrieved row's rule
    n = len(dev)
    return {
        "seed": seed,
        "questions": n,
        "accuracy": round(sum(answers[e.id] == e.target for e in dev) / n, 4),
        "answers_equal_to_dense_top1_tag": sum(answers[e.id] == dense[e.id] for e in dev),
        "dense_top1_rule_accuracy": round(sum(dense[e.id] == e.target for e in dev) / n, 4),
        "bm25_top1_rule_accuracy": round(sum(bm25[e.id] == e.target for e in dev) / n, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="the --out folder of a compare --seeds run that trained pplug+retrieval")
    ap.add_argument("sample", help="a bundled sample under data_samples/, e.g. lamp2_kinds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", choices=list(PRESETS), default="cpu-fast", help="the recipe the run trained with")
    args = ap.parse_args()
    threads = apply_threads()
    result = check(args.run_dir, args.sample, args.seed, args.preset)
    result |= {"machine": machine(threads), "date": datetime.date.today().isoformat(), "command": " ".join(sys.argv)}
    atomic_write_text(SEEDS / args.sample / "retrieval_copy.json", json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

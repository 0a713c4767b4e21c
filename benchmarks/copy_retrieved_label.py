"""How far copying the label of the top-1 retrieved history item goes, without any LLM.

On the classification samples the user's own label for the most similar past item is a strong predictor; this
prints, per retriever, how often that label equals the gold answer (LaMP_2-style) and the MAE of copying it
(LaMP_3-style). It explains why pplug+retrieval does so well there (docs/results.md, "Every method side by side").

    python benchmarks/copy_retrieved_label.py
    python benchmarks/copy_retrieved_label.py --heldout lamp2_ranked3_time   # a held-out LaMP_2 design (seed 0)

With --heldout, the design's dev questions (minipplug/lamp/samples/heldout.py, generated into a temporary folder)
instead of the bundled samples, and also the majority label of the top 4 retrieved items.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from minipplug.engine.loading import DEFAULT_ENCODER, load_encoder
from minipplug.engine.retrieval import RETRIEVERS, retrieve
from minipplug.lamp.data import load_examples
from minipplug.lamp.metrics import score
from minipplug.lamp.samples import sample_paths
from minipplug.lamp.samples.heldout import make_heldout_sample
from minipplug.lamp.tasks import get_task
from minipplug.model.encoder import HistoryEncoder, SentenceEncoder


def copy_label(examples, spec, retriever: str, k: int, hist) -> dict[str, str]:
    """Per question, the most frequent label among the top-k retrieved history items (k=1: the top item's)."""
    labels = lambda e: [str(e.profile[i][spec.persona_field]).strip() for i in retrieve(e, spec, retriever, k, hist)]
    return {e.id: Counter(labels(e)).most_common(1)[0][0] for e in examples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heldout", help="a held-out LaMP_2 design (heldout.py) instead of the bundled samples")
    ap.add_argument("--out", help="append one JSON line per row to this file")
    args = ap.parse_args()
    tok, model, pooling = load_encoder(DEFAULT_ENCODER)
    hist = HistoryEncoder(SentenceEncoder(tok, model, pooling), DEFAULT_ENCODER)  # no disk cache: a read-only script
    with tempfile.TemporaryDirectory() as tmp:
        if args.heldout:
            folder = Path(tmp) / args.heldout
            make_heldout_sample(Path(tmp), args.heldout, seed=0)
            runs = [("LaMP_2", folder / "dev_questions.json", folder / "dev_outputs.json", (1, 4))]
        else:
            runs = []
            for task in ["LaMP_2", "LaMP_3"]:
                paths = sample_paths(get_task(task).sample)
                runs.append((task, paths["dev_questions"], paths["dev_outputs"], (1,)))
        for task, questions, outputs, ks in runs:
            spec = get_task(task)  # the item's own label is the task's persona field (tag, score)
            dev = load_examples(task, questions, outputs)
            golds = {e.id: e.target for e in dev}
            for retriever, k in ((r, k) for r in RETRIEVERS for k in ks):
                metrics = {
                    m: round(v, 3) for m, v in score(task, copy_label(dev, spec, retriever, k, hist), golds).items()
                }
                what = (
                    f"the label of the top-1 {retriever} item" if k == 1 else f"the top-{k} {retriever} items' majority"
                )
                print(f"{task} ({len(dev)} dev questions), copy {what}: {metrics}")
                if args.out:
                    row = {"date": datetime.date.today().isoformat(), "command": " ".join(["python", *sys.argv])}
                    row |= {"data": args.heldout or spec.sample, "questions": len(dev), "retriever": retriever, "k": k}
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row | {"source": "measured"} | metrics) + "\n")


if __name__ == "__main__":
    main()

"""How far copying the label of the top-1 retrieved history item goes, without any LLM.

On the classification samples the user's own label for the most similar past item is a strong predictor; this
prints, per retriever, how often that label equals the gold answer (LaMP_2-style) and the MAE of copying it
(LaMP_3-style). It explains why pplug+retrieval does so well there (docs/results.md, "Every method side by side").

    python benchmarks/copy_retrieved_label.py
"""

from __future__ import annotations

from minipplug.engine.loading import DEFAULT_ENCODER, load_encoder
from minipplug.engine.retrieval import RETRIEVERS, retrieve
from minipplug.lamp.data import load_examples
from minipplug.lamp.metrics import score
from minipplug.lamp.samples import sample_paths
from minipplug.lamp.tasks import get_task
from minipplug.model.encoder import HistoryEncoder, SentenceEncoder


def main() -> None:
    tok, model, pooling = load_encoder(DEFAULT_ENCODER)
    hist = HistoryEncoder(SentenceEncoder(tok, model, pooling), DEFAULT_ENCODER)  # no disk cache: a read-only script
    for task in ["LaMP_2", "LaMP_3"]:
        spec = get_task(task)  # the item's own label is the task's persona field (tag, score)
        paths = sample_paths(spec.sample)
        dev = load_examples(task, paths["dev_questions"], paths["dev_outputs"])
        golds = {e.id: e.target for e in dev}
        for retriever in RETRIEVERS:
            copied = {
                e.id: str(e.profile[retrieve(e, spec, retriever, 1, hist)[0]][spec.persona_field]).strip() for e in dev
            }
            metrics = {k: round(v, 3) for k, v in score(task, copied, golds).items()}
            print(f"{task} ({len(dev)} dev questions), copy the label of the top-1 {retriever} item: {metrics}")


if __name__ == "__main__":
    main()

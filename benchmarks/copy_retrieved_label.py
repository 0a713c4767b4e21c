"""How far copying the label of the top-1 retrieved history item goes, without any LLM.

On the classification samples the user's own label for the most similar past item is a strong predictor; this
prints, per retriever, how often that label equals the gold answer (LaMP_2-style) and the MAE of copying it
(LaMP_3-style). It explains why pplug+retrieval does so well there (README, "Side by side").

    python benchmarks/copy_retrieved_label.py
"""

from __future__ import annotations

from minipplug.data import load_examples
from minipplug.encoder import HistoryEncoder, SentenceEncoder
from minipplug.metrics import score
from minipplug.models import DEFAULT_ENCODER, load_encoder
from minipplug.pipeline import sample_paths
from minipplug.retrieval import RETRIEVERS, retrieve
from minipplug.tasks import get_task

LABEL_FIELD = {"LaMP_2": "tag", "LaMP_3": "score"}  # the profile item's own label


def main() -> None:
    tok, model, pooling = load_encoder(DEFAULT_ENCODER)
    hist = HistoryEncoder(SentenceEncoder(tok, model, pooling), DEFAULT_ENCODER)  # no disk cache: a read-only script
    for sample, task in [("lamp2_tags", "LaMP_2"), ("lamp3_ratings", "LaMP_3")]:
        paths = sample_paths(sample)
        dev = load_examples(task, paths["dev_questions"], paths["dev_outputs"])
        golds = {e.id: e.target for e in dev}
        for retriever in RETRIEVERS:
            copied = {e.id: str(e.profile[retrieve(e, get_task(task), retriever, 1, hist)[0]][LABEL_FIELD[task]]).strip() for e in dev}
            metrics = {k: round(v, 3) for k, v in score(task, copied, golds).items()}
            print(f"{task} ({len(dev)} dev questions), copy the label of the top-1 {retriever} item: {metrics}")


if __name__ == "__main__":
    main()

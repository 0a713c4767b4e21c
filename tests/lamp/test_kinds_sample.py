"""The lamp2_kinds sample: the answer needs the question and the history together (computed here from the
committed files, independently of the generator's own summary code)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from rank_bm25 import BM25Okapi

from minipplug.lamp.data import load_examples
from minipplug.lamp.metrics import score
from minipplug.lamp.samples import KIND_CUES, KIND_TAGS, make_samples
from minipplug.lamp.tasks import LAMP2_TAGS

FOLDER = Path(__file__).resolve().parents[2] / "data_samples" / "lamp2_kinds"


def load(split: str) -> tuple[list[dict], dict[str, str]]:
    questions = json.loads((FOLDER / f"{split}_questions.json").read_text())
    golds = json.loads((FOLDER / f"{split}_outputs.json").read_text())["golds"]
    return questions, {g["id"]: g["output"] for g in golds}


SUMMARY = json.loads((FOLDER / "summary.json").read_text())
DEV, GOLD = load("dev")
TRAIN, TRAIN_GOLD = load("train")


def description(text: str) -> str:
    return text.split("description: ", 1)[-1]


def kind(text: str) -> str:
    (found,) = {k for k, cues in KIND_CUES.items() for c in cues if c in text.lower()}
    return found


def accuracy(pred: dict[str, str]) -> float:
    return sum(pred[k] == GOLD[k] for k in GOLD) / len(GOLD)


def test_sizes_users_and_kinds() -> None:
    assert (len(TRAIN), len(DEV)) == (360, 120)
    train_users, dev_users = {q["user_id"] for q in TRAIN}, {q["user_id"] for q in DEV}
    assert (len(train_users), len(dev_users)) == (45, 30) and train_users.isdisjoint(dev_users)
    for q in TRAIN + DEV:
        assert 12 <= len(q["profile"]) <= 18
        k = kind(description(q["input"]))  # exactly one kind per description
        assert (TRAIN_GOLD | GOLD)[q["id"]] in KIND_TAGS[k]
        assert {kind(it["description"]) for it in q["profile"]} == set(KIND_TAGS)  # every kind in every history
    assert all(set(a).isdisjoint(b) for a in KIND_TAGS.values() for b in KIND_TAGS.values() if a is not b)


def user_maps(questions: list[dict]) -> dict[str, dict[str, str]]:
    """Each user's kind -> tag, read off their history: the most frequent tag among the items of that kind."""
    maps = {}
    for q in questions:
        by_kind: dict[str, Counter] = {}
        for it in q["profile"]:
            by_kind.setdefault(kind(it["description"]), Counter())[it["tag"]] += 1
        maps[q["user_id"]] = {k: c.most_common(1)[0][0] for k, c in by_kind.items()}
    return maps


def test_the_history_items_of_the_questions_kind_name_the_answer() -> None:
    maps = user_maps(DEV)
    read_off = {q["id"]: maps[q["user_id"]][kind(description(q["input"]))] for q in DEV}
    assert accuracy(read_off) >= 0.9
    assert SUMMARY["dev_oracle"]["accuracy"] >= 0.9
    assert len({tuple(sorted(m.items())) for m in user_maps(TRAIN + DEV).values()}) >= 40  # users differ


def test_the_history_as_a_whole_does_not() -> None:
    order = {t: i for i, t in enumerate(LAMP2_TAGS)}
    majority = {}
    for q in DEV:
        counts = Counter(it["tag"] for it in q["profile"])
        majority[q["id"]] = min(counts, key=lambda t: (-counts[t], order[t]))  # ties: the task's label order
    assert accuracy(majority) <= 0.4
    assert SUMMARY["dev_history_majority"] == {k: round(v, 4) for k, v in score("LaMP_2", majority, GOLD).items()}


def test_the_input_alone_is_at_chance_among_the_kinds_tags() -> None:
    # The best rule from the kind alone: the most frequent training gold of the kind.
    per_kind: dict[str, Counter] = {}
    for q in TRAIN:
        per_kind.setdefault(kind(description(q["input"])), Counter())[TRAIN_GOLD[q["id"]]] += 1
    assert all(max(c.values()) / sum(c.values()) < 0.5 for c in per_kind.values())  # three tags, none dominates
    guess = {q["id"]: per_kind[kind(description(q["input"]))].most_common(1)[0][0] for q in DEV}
    assert accuracy(guess) <= 0.45
    assert SUMMARY["dev_input_only_best"]["accuracy"] <= 0.45


def test_the_top1_bm25_item_label_as_lamp_retrieves_it() -> None:
    top1 = {}
    for q in DEV:
        corpus = [it["description"].split() for it in q["profile"]]
        scores = BM25Okapi(corpus).get_scores(description(q["input"]).split())
        ranked = sorted(range(len(corpus)), key=lambda i: scores[i])[::-1]  # rank_bm25's argsort, reversed
        best = [i for i in ranked if scores[i] == scores[ranked[0]]]
        top1[q["id"]] = {q["profile"][i]["tag"] for i in best}  # any of the equally scored items
    got = SUMMARY["dev_top1_retrieved_label"]["accuracy"]
    hits_if_ties_won = sum(GOLD[k] in top1[k] for k in GOLD) / len(GOLD)
    hits_if_ties_lost = sum(top1[k] == {GOLD[k]} for k in GOLD) / len(GOLD)
    assert round(hits_if_ties_lost, 4) <= got <= round(hits_if_ties_won, 4)  # the summary rounds to 4 places
    assert SUMMARY["dev_history_majority"]["accuracy"] < got < SUMMARY["dev_oracle"]["accuracy"]


def test_the_rules_bm25_ranks_as_the_engines_retriever() -> None:
    from minipplug.engine.retrieval import retrieve_bm25
    from minipplug.lamp.rules import bm25_ranking
    from minipplug.lamp.tasks import get_task

    spec = get_task("LaMP_2")
    examples = load_examples("LaMP_2", FOLDER / "dev_questions.json", FOLDER / "dev_outputs.json")
    for e in examples:  # the same order, ties included, on every question
        texts = [spec.retrieval_text(it) for it in e.profile]
        assert bm25_ranking(texts, spec.retrieval_query(e.input))[:4] == retrieve_bm25(e, spec, 4), e.id
    top1 = {e.id: e.profile[retrieve_bm25(e, spec, 1)[0]]["tag"] for e in examples}
    assert round(accuracy(top1), 4) == SUMMARY["dev_top1_retrieved_label"]["accuracy"]


@pytest.mark.parametrize("seed", [0, 3])
def test_the_generator_is_deterministic(tmp_path: Path, seed: int) -> None:
    one = make_samples(tmp_path / "one", seed=seed, names=["lamp2_kinds"])
    two = make_samples(tmp_path / "two", seed=seed, names=["lamp2_kinds"])
    assert one == two
    for name in [
        "train_questions.json",
        "train_outputs.json",
        "dev_questions.json",
        "dev_outputs.json",
        "summary.json",
    ]:
        assert (tmp_path / "one" / "lamp2_kinds" / name).read_bytes() == (
            tmp_path / "two" / "lamp2_kinds" / name
        ).read_bytes()
    if seed == 0:
        assert (tmp_path / "one" / "lamp2_kinds" / "dev_questions.json").read_bytes() == (
            FOLDER / "dev_questions.json"
        ).read_bytes()

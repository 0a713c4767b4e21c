"""The held-out LaMP_2 designs (minipplug.lamp.samples.heldout): seeded, each of its stated kind, summary rules
re-derived independently (the package's own one-line rules, the personas)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from minipplug.lamp.samples import cued_tags
from minipplug.lamp.samples.heldout import HELDOUT, NOISY_NOISE, make_heldout_sample
from minipplug.lamp.tasks import LAMP2_TAGS


def _load(folder: Path, split: str) -> tuple[list[dict], dict[str, str]]:
    questions = json.loads((folder / f"{split}_questions.json").read_text())
    golds = json.loads((folder / f"{split}_outputs.json").read_text())["golds"]
    return questions, {g["id"]: g["output"] for g in golds}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    out = tmp_path_factory.mktemp("heldout")
    return {name: (out / name, make_heldout_sample(out, name)) for name in HELDOUT}


def test_every_design_is_seeded_and_byte_identical(tmp_path: Path, written) -> None:
    for name, (folder, summary) in written.items():
        assert make_heldout_sample(tmp_path / "again", name) == summary
        for f in sorted(folder.iterdir()):
            assert f.read_bytes() == (tmp_path / "again" / name / f.name).read_bytes(), (name, f.name)
        make_heldout_sample(tmp_path / "other", name, seed=1)
        other = (tmp_path / "other" / name / "dev_questions.json").read_bytes()
        assert other != (folder / "dev_questions.json").read_bytes(), name


def test_summary_rules_match_the_package_rules_and_the_personas(written) -> None:
    """Re-derived here from the written files: the vote by hand (ties: LaMP_2's label order), the oracle from
    each generator's personas."""
    for name, (folder, summary) in written.items():
        questions, gold = _load(folder, "dev")
        hits = 0
        for q in questions:
            counts = Counter(item["tag"] for item in q["profile"])
            top = max(counts.values())
            hits += next(t for t in LAMP2_TAGS if counts[t] == top) == gold[q["id"]]
        assert summary["dev_majority_vote_accuracy"] == round(hits / len(questions), 4), name
        _, _, personas = HELDOUT[name](random.Random(f"0-{name}"))
        hits = 0
        for q in questions:
            cued, persona = cued_tags(q["input"]), personas[q["user_id"]]
            ranked = [persona] if isinstance(persona, str) else persona
            hits += min(cued, key=lambda t: ranked.index(t) if t in ranked else len(ranked)) == gold[q["id"]]
        assert summary["dev_oracle_accuracy"] == round(hits / len(questions), 4), name
        assert summary["dev_oracle_accuracy"] >= summary["dev_input_only_best"] + 0.2, name
        assert summary["dev_top_gold_share"] <= 0.2, name  # no label dominates gold


def test_ranked3_time_is_a_time_split_where_the_vote_fails(written) -> None:
    folder, summary = written["lamp2_ranked3_time"]
    train, train_gold = _load(folder, "train")
    dev, _ = _load(folder, "dev")
    assert {q["user_id"] for q in dev} == {q["user_id"] for q in train}  # the same users
    for q in dev:  # a dev profile holds the user's training questions, tagged with their gold, as items
        own = {t["input"]: train_gold[t["id"]] for t in train if t["user_id"] == q["user_id"]}
        items = {(item["description"]): item["tag"] for item in q["profile"]}
        assert all(items[text.split("description: ", 1)[1]] == tag for text, tag in own.items())
        assert q["input"].split("description: ", 1)[1] not in items
        assert len(cued_tags(q["input"])) == 3
    assert summary["dev_input_only_best"] == round(1 / 3, 4)
    assert summary["dev_majority_vote_accuracy"] <= 0.4 < 0.9 <= summary["dev_oracle_accuracy"] < 1
    assert summary["dev_majority_vote_accuracy"] + 0.3 <= summary["dev_cued_vote_accuracy"]


def test_long_and_noisy_differ_from_the_bundled_design_as_stated(written) -> None:
    long_dev, _ = _load(written["lamp2_long"][0], "dev")
    assert all(80 <= len(q["profile"]) <= 150 for q in long_dev)
    noisy_dev, noisy_gold = _load(written["lamp2_noisy"][0], "dev")
    _, _, personas = HELDOUT["lamp2_noisy"](random.Random("0-lamp2_noisy"))
    items = [i for q in {q["user_id"]: q for q in noisy_dev}.values() for i in q["profile"]]
    users = [q["user_id"] for q in {q["user_id"]: q for q in noisy_dev}.values() for _ in q["profile"]]
    off = sum(i["tag"] != personas[u] for i, u in zip(items, users)) / len(items)
    assert abs(off - NOISY_NOISE) < 0.06  # about a quarter of the history's labels are not the favourite
    assert Counter(len(cued_tags(q["input"])) for q in noisy_dev) == {2: len(noisy_dev)}
    assert set(noisy_gold.values()) <= set(LAMP2_TAGS)

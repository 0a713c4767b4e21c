"""Method registry, the comparison runner and the LoRA-per-user baseline, on tiny random models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pplug_tiny import tiny_config, tiny_llama, tiny_sentence_encoder

from minipplug.config import PPlugConfig
from minipplug.engine.lora_per_user import history_pairs, lora_per_user_row, train_user_lora
from minipplug.engine.methods import (
    COMPARE_METHODS,
    METHODS,
    RULES,
    TRAINABLE,
    Method,
    derangement,
    get_method,
    method_examples,
    parse_retrieval,
    rule_skip_reason,
    swap_histories,
    variant_config,
)
from minipplug.engine.predict import History
from minipplug.engine.retrieval import retrieval_prompts
from minipplug.engine.stack import Stack
from minipplug.lamp.data import Example, load_examples, spread
from minipplug.lamp.rules import InputOnly, majority_label, retrieved_label
from minipplug.lamp.samples import LAMP2_INSTRUCTION, sample_paths
from minipplug.lamp.tasks import get_task
from minipplug.model.encoder import HistoryEncoder
from minipplug.model.injection import PPlugLM

L2, L7 = get_task("LaMP_2"), get_task("LaMP_7")


def methods(*names: str) -> list:
    """The registered methods of these names, in order."""
    return [get_method(n) for n in names]


def lamp2_examples() -> list[Example]:
    """Four LaMP_2 questions of two users with proper profile items (description, tag, date)."""
    prof = {
        "a": [
            {"id": "a1", "description": "a starship crew lost in space", "tag": "sci-fi", "date": "2020-1-2"},
            {"id": "a2", "description": "an android who learns to dream", "tag": "sci-fi", "date": "2020-10-2"},
            {"id": "a3", "description": "a clumsy wedding planner", "tag": "comedy", "date": "2020-2-2"},
        ],
        "b": [{"id": "b1", "description": "two strangers falling in love", "tag": "romance", "date": "2019-5-5"}],
    }
    rows = [
        ("q1", "a", "a colony on a distant planet", "sci-fi"),
        ("q2", "a", "a talking parrot", "comedy"),
        ("q3", "b", "a love letter", "romance"),
        ("q4", "b", "a shy baker", "romance"),
    ]
    return [
        Example(i, LAMP2_INSTRUCTION + d, d, [f"{it['description']} tag: {it['tag']}" for it in prof[u]], prof[u], t, u)
        for i, u, d, t in rows
    ]


@pytest.fixture
def stack() -> Stack:
    cfg = tiny_config(task="LaMP_2", epochs=1.0, batch_size=2)
    enc = tiny_sentence_encoder()
    plm = PPlugLM(tiny_llama(), True, 256, "input")
    return Stack(cfg, plm, enc, HistoryEncoder(enc, "tiny-bert"))


def test_every_compare_method_is_known_and_bad_names_fail() -> None:
    for m in COMPARE_METHODS:
        assert get_method(m).name == m
    assert get_method("bm25-k2").k == 2 and get_method("dense-k8").retriever == "dense"
    for bad in ["pplug-foo", "bm25-kx", "random", "bm25-k0"]:
        with pytest.raises(ValueError):
            get_method(bad)


def test_registry_answers_every_question_about_a_method() -> None:
    # What trains, what runs whose plug, which soft tokens go in: one table, read by train, predict and compare.
    assert set(TRAINABLE) == {
        "pplug",
        "pplug-no-history",
        "pplug+retrieval",
        "pplug-mean-pooling",
        "pplug-no-instruction",
        "pplug-top4",
    }
    swapped, hidden = get_method("pplug-swapped-history"), get_method("pplug-no-history")
    assert (swapped.trains, swapped.plug_method, swapped.history) == (False, "pplug", History.SWAPPED)
    assert (hidden.trains, hidden.plug_method, hidden.history) == (True, "pplug-no-history", History.HIDDEN)
    assert get_method("non-personalized").plug_method is None and get_method("bm25-k4").plug_method is None
    assert get_method("pplug+retrieval").retriever == "dense" and get_method("pplug+retrieval").trains
    # Every plug a method runs is one that `train --method` makes.
    assert {m.plug_method for m in METHODS.values()} - {None} == set(TRAINABLE)
    markers = {m.family: m.marker for m in METHODS.values() if m.family != "control"}
    assert len(set(markers.values())) == len(markers)  # one marker per family


def test_parse_retrieval() -> None:
    assert parse_retrieval("bm25-k4") == ("bm25", 4)
    assert parse_retrieval("recency-k2") == ("recency", 2)
    assert parse_retrieval("bm25") == ("bm25", 4)
    assert parse_retrieval(" Dense-K1 ") == ("dense", 1)
    for bad in ["bm25-k0", "bm25-kx", "tfidf-k2"]:
        with pytest.raises(ValueError, match="unknown retrieval method"):
            parse_retrieval(bad)


def test_variant_configs_change_only_their_field() -> None:
    cfg = PPlugConfig()
    assert variant_config(cfg, METHODS["pplug-mean-pooling"]).aggregation == "mean"
    assert variant_config(cfg, METHODS["pplug-no-instruction"]).use_instruction is False
    top = variant_config(cfg, METHODS["pplug-top4"])
    assert (top.aggregation, top.top_k) == ("topk", 4)
    assert variant_config(cfg, METHODS["pplug"]) == cfg and variant_config(cfg, METHODS["pplug+retrieval"]) == cfg
    assert variant_config(cfg, METHODS["pplug-swapped-history"]) == cfg  # it runs the pplug plug


@pytest.mark.parametrize("n", [2, 3, 7, 30])
def test_derangement_has_no_fixed_point_uses_every_user_and_is_seeded(n: int) -> None:
    users = [f"u{i}" for i in range(n)]
    for seed in range(5):
        d = derangement(users, seed)
        assert all(d[u] != u for u in users)  # nobody keeps their own history
        assert sorted(d.values()) == sorted(users)  # every history is given to exactly one user
        assert d == derangement(users, seed)  # deterministic
    if n > 3:
        assert len({tuple(derangement(users, s).values()) for s in range(5)}) > 1  # the seed matters


def test_derangement_of_one_user_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 users"):
        derangement(["only"])


def test_swap_histories_gives_each_user_another_users_history() -> None:
    ex = lamp2_examples()
    out = swap_histories(ex, seed=0)
    by_user = {e.user: e.history for e in ex}
    for before, after in zip(ex, out):
        assert after.history != before.history and after.history == by_user["b" if before.user == "a" else "a"]
        assert (after.id, after.input, after.query, after.target, after.user) == (
            before.id,
            before.input,
            before.query,
            before.target,
            before.user,
        )
    assert [e.history for e in method_examples(METHODS["pplug-swapped-history"], ex, L2)] == [e.history for e in out]


def test_method_examples_put_retrieved_items_in_the_input(stack: Stack) -> None:
    ex = lamp2_examples()
    tok = stack.plm.tokenizer
    out = method_examples(get_method("recency-k2"), ex, L2, tokenizer=tok, max_input_tokens=256)
    assert [e.input for e in out] == retrieval_prompts(ex, L2, "recency", 2, tok, 256)
    # The newest item of user a is dated 2020-10-2 (a2): it comes first.
    assert out[0].input.startswith('the tag for the movie: "an android who learns to dream" is "sci-fi" , and ')
    assert [e.query for e in out] == [e.query for e in ex] and [e.history for e in out] == [e.history for e in ex]
    assert method_examples(METHODS["pplug"], ex, L2, tokenizer=tok, max_input_tokens=256) is ex


def test_compare_rows_and_reuse_of_saved_plugs(stack: Stack, tmp_path: Path, monkeypatch) -> None:
    from minipplug.engine import compare

    ex = lamp2_examples()
    names = ["non-personalized", "bm25-k1", "pplug", "pplug-swapped-history", "pplug-no-history"]
    trained = []
    real_train = compare.train
    monkeypatch.setattr(
        compare,
        "train",
        lambda stack, tr, dev, method, **k: trained.append(method) or real_train(stack, tr, dev, method, **k),
    )
    rows = compare.run_compare(stack, ex, ex, out=tmp_path, methods=methods(*names), progress=False)
    assert [(r["method"], r["decoding"]) for r in rows] == [
        ("non-personalized", "generate"),
        ("non-personalized", "rank"),
        ("bm25-k1", "generate"),
        ("bm25-k1", "rank"),
        ("pplug", "generate"),
        ("pplug-swapped-history", "generate"),
        ("pplug-no-history", "generate"),
    ]
    assert trained == ["pplug", "pplug-no-history"]  # the counterfactual runs pplug's plug: no training of its own
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["method"] for r in saved] == [r["method"] for r in rows] and "_answers" not in saved[0]
    assert (tmp_path / "results.md").read_text().startswith("| method |")
    by = {(r["method"], r["decoding"]): r for r in rows}
    # Retrieval prompts are longer than the plain input; PPlug adds exactly its soft tokens (1 + 1 here).
    assert (
        by[("bm25-k1", "generate")]["prompt_tokens_mean"] > by[("non-personalized", "generate")]["prompt_tokens_mean"]
    )
    assert (
        by[("pplug", "generate")]["prompt_tokens_mean"] - by[("non-personalized", "generate")]["prompt_tokens_mean"]
        == 2
    )
    # Rows that trained report their training time; the counterfactual trains nothing and reports none.
    assert isinstance(by[("pplug", "generate")]["train_seconds"], float)
    assert "train_seconds" not in by[("pplug-swapped-history", "generate")]
    # Collapse shows in every labelled row: the most frequent answer's share against the gold's.
    assert by[("pplug", "generate")]["top_gold_share"] == 0.5  # 2 of the 4 golds are "romance"
    # A second run on the same folder reuses the two trained plugs instead of training again.
    calls = []
    monkeypatch.setattr(compare, "train", lambda *a, **k: calls.append(a) or pytest.fail("retrained"))
    again = compare.run_compare(
        stack, ex, ex, out=tmp_path, methods=methods("pplug", "pplug-no-history"), progress=False
    )
    assert not calls and again[0]["_answers"] == by[("pplug", "generate")]["_answers"]
    # ... and reports the training time saved with the plug, not a new measurement.
    assert again[0]["train_seconds"] == pytest.approx(by[("pplug", "generate")]["train_seconds"], abs=0.11)


def test_compare_trains_each_variant_with_its_own_config_and_prompts(stack: Stack, tmp_path: Path, monkeypatch) -> None:
    import sys

    from minipplug.engine import compare

    train_module = sys.modules["minipplug.engine.train"]  # the module (minipplug.train is its function)
    from minipplug.engine.stack import open_plug
    from minipplug.engine.train import soft_tokens
    from minipplug.model.plug import read_plug_config

    seen: dict[str, list[str]] = {}
    real = train_module.train_loop

    def spy(cfg, plug, plm, hist, train_examples, *a, meta=None, **k):
        seen[meta["method"]] = [e.input for e in train_examples]
        return real(cfg, plug, plm, hist, train_examples, *a, meta=meta, **k)

    monkeypatch.setattr(train_module, "train_loop", spy)
    ex = lamp2_examples()
    variants = ["pplug", "pplug+retrieval", "pplug-mean-pooling", "pplug-no-instruction", "pplug-top4"]
    rows = compare.run_compare(stack, ex, ex, out=tmp_path, methods=methods(*variants), progress=False)
    by = {r["method"]: r for r in rows}
    for m in variants:
        info = read_plug_config(tmp_path / "plugs" / m)
        assert info["method"] == m and info["config"] == variant_config(stack.cfg, METHODS[m]).to_dict()
    # pplug+retrieval trains and runs on the input with the most relevant item in front; the others on the input.
    assert seen["pplug"] == [e.input for e in ex] and seen["pplug-top4"] == [e.input for e in ex]
    assert all(
        r.startswith('the tag for the movie: "') and r.endswith(e.input) for r, e in zip(seen["pplug+retrieval"], ex)
    )
    assert by["pplug+retrieval"]["prompt_tokens_mean"] > by["pplug"]["prompt_tokens_mean"]
    # Without the instruction token the prompt is one soft token (n_instruction_tokens=1) shorter.
    assert by["pplug"]["prompt_tokens_mean"] - by["pplug-no-instruction"]["prompt_tokens_mean"] == 1
    # The saved variants behave as their names say: mean pooling weighs user a's 3 items equally.
    plug = open_plug(stack, tmp_path / "plugs" / "pplug-mean-pooling")
    _, w = soft_tokens(plug, stack.hist, ex[:1])
    torch.testing.assert_close(w, torch.full((1, 3), 1 / 3))
    assert open_plug(stack, tmp_path / "plugs" / "pplug-no-instruction").instruction is None


def test_history_pairs_use_the_questions_instruction() -> None:
    ex = lamp2_examples()[0]
    pairs = history_pairs(ex, L2)
    assert pairs[0] == (LAMP2_INSTRUCTION + "a starship crew lost in space", "sci-fi") and len(pairs) == 3
    with pytest.raises(ValueError, match="LaMP_7"):
        history_pairs(ex, L7)


def test_user_lora_trains_a_copy_and_leaves_the_shared_llm_alone(stack: Stack) -> None:
    before = {n: p.clone() for n, p in stack.plm.model.named_parameters()}
    pairs = history_pairs(lamp2_examples()[0], L2)
    loss0 = stack.plm.loss([x for x, _ in pairs], [y for _, y in pairs]).item()
    user_plm = train_user_lora(stack.plm, pairs, r=4, epochs=15, lr=1e-2, batch_size=3)
    loss1 = user_plm.loss([x for x, _ in pairs], [y for _, y in pairs]).detach().item()
    assert loss1 < loss0 - 0.5  # it fits the user's own items
    assert all(torch.equal(p, before[n]) for n, p in stack.plm.model.named_parameters())
    row = lora_per_user_row(stack.plm, lamp2_examples(), L2, n_users=2, r=4, epochs=1)
    assert (
        row["examples"] == 4
        and row["method"] == "lora-per-user (2 users)"
        and row["train_seconds_per_user"] == pytest.approx(row["train_seconds"] / 2, abs=1e-3)
    )
    assert set(row["_answers"]) == {"q1", "q2", "q3", "q4"}


def test_a_method_is_built_by_keyword() -> None:
    # Ten fields, several of the same type: a positional value could land in the wrong one unseen.
    with pytest.raises(TypeError):
        Method("x", "pplug", "help", "x")
    assert Method(name="x", family="pplug", help="h", plug_method="x").trains


def hand_accuracy(answer, examples: list[Example]) -> float:
    """The share of examples whose gold the rule function answers, counted here without the package's scorer."""
    return sum(answer(e) == e.target for e in examples) / len(examples)


def test_rule_rows_score_what_the_rule_functions_answer(stack: Stack, capsys) -> None:
    from minipplug.engine.compare import run_compare

    ex, train = lamp2_examples(), lamp2_examples()[:3]
    llm_row = run_compare(stack, train, ex, methods=methods("non-personalized"), progress=False)[0]
    rows = {r["method"]: r for r in run_compare(stack, train, ex, methods=methods(*RULES), progress=False)}
    assert list(rows) == ["rule-input-only", "rule-history-majority", "rule-top1-retrieved"]
    # User a's history: sci-fi twice, comedy once -> sci-fi (q1 right, q2 wrong); user b's: romance (q3, q4 right).
    assert rows["rule-history-majority"]["accuracy"] == 0.75
    expected = {
        "rule-input-only": hand_accuracy(InputOnly(train, L2), ex),
        "rule-history-majority": hand_accuracy(lambda e: majority_label(e, L2), ex),
        "rule-top1-retrieved": hand_accuracy(lambda e: retrieved_label(e, L2), ex),
    }
    assert {m: r["accuracy"] for m, r in rows.items()} == pytest.approx(expected, abs=5e-5)
    for r in rows.values():
        # The same keys as an LLM row (memory is not measured for a rule), no prompt, no decoding.
        assert set(r) == set(llm_row) - {"peak_memory_mb"}
        assert r["prompt_tokens_mean"] == 0.0 and r["decoding"] == "none" and r["examples"] == 4
        assert set(r["_answers"]) == {"q1", "q2", "q3", "q4"}
    assert rows["rule-history-majority"]["_answers"] == {
        "q1": "sci-fi",
        "q2": "sci-fi",
        "q3": "romance",
        "q4": "romance",
    }
    assert get_method("rule-top1-retrieved").marker not in {m.marker for m in METHODS.values() if m.family != "rule"}


def test_rules_are_skipped_with_the_reason_printed_where_they_cannot_answer(stack: Stack, capsys) -> None:
    from minipplug.engine.compare import run_compare

    stack.cfg = stack.cfg.replace(task="LaMP_7")
    assert run_compare(stack, lamp2_examples(), lamp2_examples(), methods=methods(*RULES), progress=True) == []
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"{name}: skipped (LaMP_7 answers are free text, not labels)" for name in RULES]
    lamp1 = get_task("LaMP_1")
    assert (
        rule_skip_reason(METHODS["rule-history-majority"], lamp1, []) == "LaMP_1 history items carry no label to read"
    )
    assert rule_skip_reason(METHODS["rule-input-only"], lamp1, lamp2_examples()) is None  # labels [1]/[2]: it runs
    assert "no training questions" in rule_skip_reason(METHODS["rule-input-only"], L2, [])


def test_demo_rows_include_the_rules(stack: Stack, tmp_path: Path, monkeypatch) -> None:
    from minipplug.engine import demo

    monkeypatch.setattr(demo, "load_stack", lambda cfg: Stack(cfg, stack.plm, stack.encoder, stack.hist))
    cfg = stack.cfg.replace(max_train_examples=8, max_dev_examples=6, epochs=1.0, batch_size=4)
    result = demo.run_demo(tmp_path, cfg)
    by = {r["method"]: r for r in result.rows}
    assert list(by) == [
        "pplug",
        "pplug-swapped-history",
        "pplug-no-history",
        "non-personalized",
        "rule-input-only",
        "rule-history-majority",
        "rule-top1-retrieved",
    ]
    paths = sample_paths("lamp2_tags")
    train = load_examples(L2, paths["train_questions"], paths["train_outputs"])[:8]  # input-only fits on the plugs' cut
    dev = spread(load_examples(L2, paths["dev_questions"], paths["dev_outputs"]), 6)
    assert by["rule-input-only"]["accuracy"] == pytest.approx(hand_accuracy(InputOnly(train, L2), dev), abs=5e-5)
    majority = hand_accuracy(lambda e: majority_label(e, L2), dev)
    assert by["rule-history-majority"]["accuracy"] == pytest.approx(majority, abs=5e-5)
    top1 = hand_accuracy(lambda e: retrieved_label(e, L2), dev)
    assert by["rule-top1-retrieved"]["accuracy"] == pytest.approx(top1, abs=5e-5)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["method"] for r in saved] == list(by) and "| rule-top1-retrieved | none |" in (
        tmp_path / "results.md"
    ).read_text()

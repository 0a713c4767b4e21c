"""The explorer of notebook 05, driven as a student would: set the Dropdowns, read what the widgets show.

Tiny seeded models (tests/pplug_tiny.py): what matters is that the explorer shows the right user's items, the
plug's own weights and the answers that the plug and the bare LLM give, not what a trained plug would say.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pplug_tiny as tiny
import pytest
import torch

from minipplug.course.explorer import (
    Explorer,
    attention_matrix,
    neighbour_agreement,
    persona,
    project_2d,
    user_embeddings,
)
from minipplug.engine.stack import Stack
from minipplug.engine.train import soft_tokens
from minipplug.lamp.tasks import LAMP2_TAGS, get_task
from minipplug.model.encoder import HistoryEncoder
from minipplug.model.injection import PPlugLM, embedding_scale
from minipplug.model.plug import build_plug


@pytest.fixture(scope="module")
def setup():
    cfg = tiny.tiny_config(task="LaMP_2")
    enc = tiny.tiny_sentence_encoder()
    plm = PPlugLM(tiny.tiny_llama(), chat_template=True, max_input_tokens=64)
    stack = Stack(cfg, plm, enc, HistoryEncoder(enc, "tiny-bert"))
    plug = build_plug(cfg, enc, plm.dim, embedding_scale(plm.model)).eval()
    examples = tiny.tiny_examples()
    return stack, plug, examples


def direct(stack, plug, example):
    """What the explorer should show, computed here straight from the plug and the LLM."""
    with torch.no_grad():
        soft, w = plug([example.query], *stack.hist.batch([example.history], 512))
        with_plug = stack.plm.rank([example.input], list(LAMP2_TAGS), soft)[0]
        without = stack.plm.rank([example.input], list(LAMP2_TAGS), None)[0]
    return w[0].tolist(), with_plug, without


def test_users_and_queries_in_file_order(setup):
    stack, plug, examples = setup
    ex = Explorer(stack, plug, examples)
    assert ex.users == ["u1", "u2", "u3", "u4"]
    assert ex.queries("u1") == ["A robot on a space ship.", "War in space."]
    assert ex.queries("u3") == ["A bridge in the rain.", "The late train."]
    assert ex.decoding == "rank"  # a task with labels: answers are always valid labels
    with pytest.raises(KeyError, match="unknown user 'nobody'"):
        ex.queries("nobody")
    with pytest.raises(IndexError, match="has 2 queries"):
        ex.select("u1", 5)


def test_select_matches_the_plug_and_the_llm(setup):
    stack, plug, examples = setup
    ex = Explorer(stack, plug, examples)
    sel = ex.select("u3", 1)
    e6 = next(e for e in examples if e.id == "e6")
    weights, with_plug, without = direct(stack, plug, e6)
    assert sel["id"] == "e6" and sel["query"] == "The late train." and sel["gold"] == "comedy"
    assert sel["history"] == e6.history and len(sel["weights"]) == 4
    np.testing.assert_allclose(sel["weights"], weights, atol=1e-6)
    assert sum(sel["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert (sel["with_plug"], sel["without_plug"]) == (with_plug, without)
    # PersonaPlug.forward's second output is what select reports.
    _, w = soft_tokens(plug, stack.hist, [e6])
    np.testing.assert_allclose(sel["weights"], w[0].tolist(), atol=1e-6)


def test_widget_follows_the_dropdowns(setup):
    stack, plug, examples = setup
    ex = Explorer(stack, plug, examples)
    ui = ex.widget()
    assert ui.children  # a layout, ready to display
    # Initial view: the first user's first query.
    assert ex.state["user"] == "u1" and ex.state["query_index"] == 0
    assert [o[1] for o in ex.query_box.options] == [0, 1]

    ex.user_box.value = "u3"  # a new user: the query box is refilled and the first query shown
    assert [o[1] for o in ex.query_box.options] == [0, 1]
    assert ex.query_box.options[1][0] == "1: The late train."
    assert ex.state["user"] == "u3" and ex.state["query_index"] == 0 and ex.state["query"] == "A bridge in the rain."

    ex.query_box.value = 1
    weights, with_plug, without = direct(stack, plug, next(e for e in examples if e.id == "e6"))
    assert ex.state["id"] == "e6"
    assert ex.answer_with.value == f"with the plug: {with_plug}"
    assert ex.answer_without.value == f"without the plug (non-personalized): {without}"
    assert ex.answer_gold.value == "gold: comedy"
    assert "The late train." in ex.query_label.value and "4 history items" in ex.query_label.value
    # The chart shows one bar per history item, as long as its weight.
    bars = ex.figure.axes[0].patches
    np.testing.assert_allclose([b.get_width() for b in bars], weights, atol=1e-6)
    assert [t.get_text() for t in ex.figure.axes[0].get_yticklabels()] == ex.state["history"]
    assert "u3" in ex.figure.axes[0].get_title()


def test_widget_on_a_user_without_history(setup):
    stack, plug, examples = setup
    ex = Explorer(stack, plug, examples)
    ex.widget()
    ex.user_box.value = "u4"
    assert ex.state["history"] == [] and ex.state["weights"] == []
    assert ex.state["with_plug"] in LAMP2_TAGS and ex.state["without_plug"] in LAMP2_TAGS
    assert len(ex.figure.axes[0].patches) == 0


def test_embeddings_attention_matrix_and_projection(setup):
    stack, plug, examples = setup
    users, vecs = user_embeddings(plug, stack.hist, examples, "plug")
    assert users == ["u1", "u2", "u3", "u4"] and vecs.shape == (4, plug.cfg.n_user_tokens * stack.plm.dim)
    users_h, hvecs = user_embeddings(plug, stack.hist, examples, "history")
    assert hvecs.shape == (4, stack.hist.dim) and np.allclose(hvecs[3], 0)  # u4 has no history
    np.testing.assert_allclose(hvecs[1], stack.hist.encode(examples[1].history).mean(0).numpy(), atol=1e-6)
    u3 = [e for e in examples if e.user == "u3"]
    m = attention_matrix(plug, stack.hist, u3)
    assert m.shape == (2, 4)
    np.testing.assert_allclose(m[1], direct(stack, plug, u3[1])[0], atol=1e-6)
    with pytest.raises(ValueError, match="one user"):
        attention_matrix(plug, stack.hist, examples[:2])
    for method in ("pca", "tsne"):
        pts = project_2d(hvecs[:3].repeat(3, 0) + np.arange(9)[:, None] * 1e-3, method)
        assert pts.shape == (9, 2) and np.isfinite(pts).all()
    assert neighbour_agreement(np.eye(4)[[0, 0, 1, 1]] + 0.01 * np.arange(4)[:, None], ["a", "a", "b", "b"]) == 1.0


def test_persona_is_the_majority_tag():
    from minipplug.lamp.data import Example

    profile = [{"tag": "comedy"}, {"tag": "sci-fi"}, {"tag": "comedy"}, {"tag": "sci-fi"}, {"tag": "sci-fi"}]
    assert persona(Example("1", "x", "x", [], profile, None, "u"), get_task("LaMP_2")) == "sci-fi"
    assert (
        persona(Example("1", "x", "x", [], profile[:2], None, "u"), get_task("LaMP_2")) == "comedy"
    )  # a tie: first seen
    assert persona(Example("1", "x", "x", [], [], None, "u9"), get_task("LaMP_2")) == "u9"

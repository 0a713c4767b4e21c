"""Prediction with and without the plug.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import LABELS, setup_plug


def test_predict_uses_the_plug(plm):
    from minipplug.engine.predict import History, predict
    from minipplug.lamp.tasks import get_task
    from minipplug.model.plug import soft_tokens

    cfg = tiny.tiny_config()
    plug, hist = setup_plug(cfg, plm)
    examples = tiny.tiny_examples()[:3]
    spec = get_task("LaMP_2")
    with torch.no_grad():
        pred = predict(examples, spec, plm, plug=plug, hist=hist, decoding="rank", batch_size=2, progress=False)
        soft, _ = soft_tokens(plug, hist, examples)
        want = plm.rank([e.input for e in examples], list(spec.labels), soft)
        base = predict(examples, spec, plm, decoding="rank", batch_size=2, progress=False)
        hidden = predict(examples, spec, plm, plug=plug, hist=hist, history=History.HIDDEN, decoding="rank")
        soft_hidden, _ = soft_tokens(plug, hist, examples, hide_history=True)
        want_hidden = plm.rank([e.input for e in examples], list(spec.labels), soft_hidden)
    assert pred.answers == {e.id: a for e, a in zip(examples, want)}
    assert hidden.answers == {e.id: a for e, a in zip(examples, want_hidden)}
    mean_prompt = sum(len(plm.prompt_ids(e.input)) for e in examples) / 3
    assert pred.prompt_tokens_mean == pytest.approx(mean_prompt + plug.n_soft_tokens)
    assert base.prompt_tokens_mean == pytest.approx(mean_prompt)
    with pytest.raises(ValueError, match="needs a history encoder"):
        predict(examples, spec, plm, plug=plug, progress=False)
    with pytest.raises(TypeError):  # everything after the LLM is named: no positional plug, history or decoding
        predict(examples, spec, plm, plug, hist)


def test_a_swapped_history_changes_the_soft_tokens_and_the_label_scores(plm):
    from minipplug.engine.methods import METHODS, method_examples
    from minipplug.lamp.tasks import get_task
    from minipplug.model.plug import soft_tokens

    plug, hist = setup_plug(tiny.tiny_config(), plm)
    plug.eval()
    ex = [e for e in tiny.tiny_examples() if e.history]  # three users with a history each
    swapped = method_examples(METHODS["pplug-swapped-history"], ex, get_task("LaMP_2"), seed=0)
    assert all(s.history != e.history for s, e in zip(swapped, ex))
    with torch.no_grad():
        own, _ = soft_tokens(plug, hist, ex)
        theirs, _ = soft_tokens(plug, hist, swapped)
        n_i = plug.cfg.n_instruction_tokens
        assert torch.equal(own[:, :n_i], theirs[:, :n_i])  # the instruction tokens do not depend on the user
        assert not torch.allclose(own[:, n_i:], theirs[:, n_i:])  # the user tokens do
        lab = [plm.tokenizer(x, add_special_tokens=False)["input_ids"] for x in LABELS]
        a = plm.label_scores(ex[0].input, lab, own[:1])
        b = plm.label_scores(ex[0].input, lab, theirs[:1])
    assert not torch.allclose(a, b)  # the frozen LLM's scores of the same labels move with the history


def test_predict_encodes_every_history_item_up_front_with_one_cache_write(plm, tmp_path):
    """Prediction fills the history cache as training does: one encode() of all distinct items before the loop,
    so a disk cache gets one new shard per run, not one per batch (and the vectors equal a cold encode)."""
    from minipplug.engine.predict import predict
    from minipplug.lamp.tasks import get_task
    from minipplug.model.encoder import HistoryEncoder

    cfg = tiny.tiny_config()
    plug, _ = setup_plug(cfg, plm)
    hist = HistoryEncoder(tiny.tiny_sentence_encoder(), "tiny-bert", disk_dir=tmp_path)
    calls = []
    original = hist.encode
    hist.encode = lambda texts, **kw: calls.append(len(texts)) or original(texts, **kw)
    examples = tiny.tiny_examples()
    distinct = {t for e in examples for t in e.history}
    predict(examples, get_task("LaMP_2"), plm, plug=plug, hist=hist, decoding="rank", batch_size=2, progress=False)
    assert calls[0] == len(distinct) and hist.shards_written == 1  # the later per-batch lookups are cache hits
    cold = HistoryEncoder(tiny.tiny_sentence_encoder(), "tiny-bert").encode(sorted(distinct))
    assert torch.equal(hist.encode(sorted(distinct)), cold)


@pytest.mark.slow
def test_batched_generation_gives_the_one_at_a_time_answers():
    """Free generation of a batch (left padding, one KV cache, each row stopping at its own end-of-turn token)
    answers as the same questions one at a time do: the frozen LLM alone and with a plug's soft tokens, on the
    bundled sample with the real models."""
    from minipplug.config import PPlugConfig
    from minipplug.engine.predict import predict
    from minipplug.engine.stack import load_stack, new_plug
    from minipplug.lamp.data import load_examples, spread
    from minipplug.lamp.samples import sample_paths

    stack = load_stack(PPlugConfig(progress=False), torch.device("cpu"), disk_cache=False)
    paths = sample_paths("lamp2_tags")
    examples = spread(load_examples(stack.task, paths["dev_questions"], paths["dev_outputs"]), 6)
    plug = new_plug(stack).eval()
    limit = 40  # room to finish: the zero-shot LLM explains its tag, so rows end at different lengths
    for with_plug in ({}, {"plug": plug, "hist": stack.hist}):
        run = dict(max_new_tokens=limit, progress=False, **with_plug)
        one = predict(examples, stack.task, stack.plm, batch_size=1, **run)
        batched = predict(examples, stack.task, stack.plm, batch_size=6, **run)
        assert batched.answers == one.answers
        # One row at least ended before the limit while another went on: a row that stopped stayed stopped.
        lengths = {len(stack.plm.tokenizer(a, add_special_tokens=False)["input_ids"]) for a in one.answers.values()}
        assert len(lengths) > 1 and min(lengths) < limit - 1, one.answers


@pytest.mark.slow
def test_packed_label_ranking_scores_each_label_as_if_it_alone_followed_the_prompt():
    """Label ranking packs all labels after each prompt of a left-padded batch in one forward pass: its scores
    equal those of one unpadded sequence per prompt and label (the plain HF model), on the bundled sample with
    the real models, prompts of different lengths (one with retrieved items), a plug's soft tokens, and labels
    of one to four tokens."""
    from minipplug.config import PPlugConfig
    from minipplug.engine.methods import with_inputs
    from minipplug.engine.retrieval import retrieval_prompts
    from minipplug.engine.stack import load_stack, new_plug
    from minipplug.lamp.data import load_examples, spread
    from minipplug.lamp.samples import sample_paths
    from minipplug.model.plug import soft_tokens

    stack = load_stack(PPlugConfig(progress=False), torch.device("cpu"), disk_cache=False)
    paths = sample_paths("lamp2_tags")
    examples = spread(load_examples(stack.task, paths["dev_questions"], paths["dev_outputs"]), 3)
    longer = retrieval_prompts(examples[2:], stack.task, "bm25", 2, stack.plm.tokenizer, 256)
    examples = examples[:2] + with_inputs(examples[2:], longer)
    prompts = [e.input for e in examples]
    assert len({len(stack.plm.prompt_ids(p)) for p in prompts}) == 3  # the batch is padded
    labels = ["based on a book", "sci-fi", "comedy", "action", "dark comedy"]
    lab_ids = [stack.plm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in labels]
    assert {len(ids) for ids in lab_ids} == {1, 2, 3, 4}
    torch.manual_seed(0)
    plug = new_plug(stack).eval()
    with torch.no_grad():
        soft, _ = soft_tokens(plug, stack.hist, examples)  # (3, S, D)
        got = stack.plm.batch_label_scores(prompts, lab_ids, soft)  # (3, L)
        answers = stack.plm.rank(prompts, labels, soft)
    want = torch.tensor(
        [tiny.independent_rank_scores(stack.plm, p, soft[b], labels) for b, p in enumerate(prompts)],
        dtype=torch.float64,
    )
    assert torch.allclose(got.double(), want, atol=1e-4), (got.double() - want).abs().max()
    assert answers == [labels[int(i)] for i in want.argmax(-1)]


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_answers_run_on_bf16_block_weights_exactly_where_the_run_computes_in_bf16(plm, precision):
    """result_row answers on the LLM's bf16 block weights under bf16 autocast when the run's precision resolves
    to bf16 on a CPU, in fp32 as loaded otherwise; seen from inside the LLM's forward, and the loaded LLM after."""
    from minipplug.engine.methods import METHODS
    from minipplug.engine.report import answering_llm, result_row
    from minipplug.engine.stack import Stack

    cfg = tiny.tiny_config(precision=precision)
    plug, hist = setup_plug(cfg, plm)
    stack = Stack(cfg, plm, hist.encoder, hist)
    linear = plm.model.model.layers[0].mlp.down_proj
    loaded = linear.weight
    seen = []
    hook = linear.register_forward_pre_hook(
        lambda m, args: seen.append((m.weight.dtype, torch.is_autocast_enabled("cpu")))
    )
    try:
        result_row(stack, tiny.tiny_examples()[:3], METHODS["pplug"], plug=plug, decoding="rank", progress=False)
    finally:
        hook.remove()
    want = (torch.bfloat16, True) if precision == "bf16" else (torch.float32, False)
    assert seen and set(seen) == {want}
    assert linear.weight is loaded and not torch.is_autocast_enabled("cpu")  # the LLM as loaded, after
    if precision == "bf16":
        assert answering_llm(stack) is answering_llm(stack)  # made once per stack
    else:
        assert answering_llm(stack) is None


@pytest.mark.slow
def test_bf16_answers_agree_with_fp32_on_the_sample(notebook_plug):
    """On the bundled sample with the real models and the notebooks' trained plug, the plug's label ranking on the
    bf16 block weights under autocast picks the tags fp32 picks (a choice among 15 tags, not free text); one
    near-tie may fall the other way on a CPU whose bf16 kernels round differently."""
    from minipplug.course.notebook import get_settings
    from minipplug.engine.fast_step import FastFrozenLLM
    from minipplug.engine.predict import predict
    from minipplug.engine.stack import load_stack, open_plug
    from minipplug.lamp.data import load_examples, spread
    from minipplug.lamp.samples import sample_paths

    stack = load_stack(get_settings(seed=0).cfg, torch.device("cpu"))
    plug = open_plug(stack, notebook_plug).eval()
    paths = sample_paths("lamp2_tags")
    examples = spread(load_examples(stack.task, paths["dev_questions"], paths["dev_outputs"]), 24)
    run = dict(plug=plug, hist=stack.hist, decoding="rank", batch_size=8, progress=False)
    fp32 = predict(examples, stack.task, stack.plm, **run)
    bf16_llm = FastFrozenLLM(stack.plm.model, bf16=True, compile=False)
    bf16 = predict(examples, stack.task, stack.plm, bf16_llm=bf16_llm, **run)
    assert bf16.answers.keys() == fp32.answers.keys()
    assert sum(bf16.answers[k] != fp32.answers[k] for k in fp32.answers) <= 1
    assert len(set(fp32.answers.values())) > 5  # a real choice per user, not one label everywhere


def test_bf16_answers_are_refused_for_an_llm_off_the_cpu(plm, monkeypatch):
    """The bf16 copies come with the CPU's autocast: on a GPU they would mix dtypes, so predict says so at once."""
    from minipplug.engine.fast_step import FastFrozenLLM
    from minipplug.engine.predict import predict
    from minipplug.lamp.tasks import get_task
    from minipplug.model.injection import PPlugLM

    bf16_llm = FastFrozenLLM(plm.model, bf16=True, compile=False)
    monkeypatch.setattr(PPlugLM, "device", property(lambda self: torch.device("cuda")))
    with pytest.raises(ValueError, match="bf16_llm is for a CPU"):
        predict(tiny.tiny_examples()[:1], get_task("LaMP_2"), plm, bf16_llm=bf16_llm, progress=False)

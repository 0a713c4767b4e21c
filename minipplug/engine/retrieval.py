"""Retrieval-augmented prompts: the LaMP baselines that put k retrieved history items into the prompt as text.

Everything here follows LaMP's own code (prompts/prompts.py), so that the baselines are LaMP's:
- retrievers: BM25 is rank_bm25's get_top_n over whitespace tokens; recency sorts the items by date (a stable
  sort), takes the last k and reverses them, so on equal dates the LATER profile item comes first;
- templates: every item rendered with its task's template (ending with a space), joined with ", and ", then
  ". " and the input (LaMP_1 splices the items into the input);
- budget: the items get window - min(input tokens, int(0.6 * window)) tokens, so they keep at least 40% of
  the window; the input is never cut here. A long input can make the prompt longer than the window: the
  LLM wrapper then cuts its end, as LaMP leaves the cut to the LLM's tokenizer.
Tokens are counted as LaMP counts them: the tokenizer's plain call, special tokens included.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import InputError
from ..lamp.data import Example
from ..lamp.tasks import ITEM_SEP, TaskSpec

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..model.encoder import HistoryEncoder

RETRIEVERS = ("bm25", "recency", "dense")
INPUT_SHARE = 0.6  # LaMP counts the input up to 60% of the window: the items keep at least 40% of it


# ---- retrievers: indices of the top-k profile items, most relevant first -------------------------------
def retrieve_bm25(example: Example, task: TaskSpec, k: int) -> list[int]:
    """Top-k items by BM25Okapi over whitespace tokens, ranked by rank_bm25's own get_top_n (as LaMP does)."""
    from rank_bm25 import BM25Okapi

    corpus = [task.retrieval_text(it).split() for it in example.profile]
    if not any(corpus):  # BM25Okapi divides by the mean document length (LaMP would fail): keep profile order
        return list(range(min(k, len(corpus))))
    query = task.retrieval_query(example.input).split()
    # get_top_n returns documents; given the indices as documents, it returns their order. Its order on equal
    # scores is numpy's argsort reversed (usually the later item first), LaMP's order whatever it is.
    return [int(i) for i in BM25Okapi(corpus).get_top_n(query, list(range(len(corpus))), n=k)]


def _date_key(item: dict) -> tuple[int, ...] | None:
    # Dates sort on their integer parts: '2019-2-3' < '2019-10-1', which string order gets wrong.
    parts = re.findall(r"\d+", str(item.get("date") or ""))
    return tuple(int(p) for p in parts) if parts else None


def retrieve_recency(example: Example, k: int) -> list[int]:
    """The latest k items by 'date', newest first, equal dates later item first; undated items last (in order)."""
    keys = [_date_key(it) for it in example.profile]
    # LaMP: a stable ascending sort, then the last k reversed; so on equal dates the later item comes first.
    dated = sorted((i for i, key in enumerate(keys) if key is not None), key=lambda i: keys[i])[::-1]
    undated = [i for i, key in enumerate(keys) if key is None]  # LaMP requires a date; here they come last
    return (dated + undated)[:k]


def retrieve_dense(example: Example, task: TaskSpec, k: int, hist: HistoryEncoder) -> list[int]:
    """Top-k items by cosine similarity of sentence vectors (item vectors come from hist's cache)."""
    import torch  # here, not at the top: the CLI imports the method registry (and so this file) without torch

    if not example.profile:
        return []
    with torch.no_grad():
        items = hist.encode([task.retrieval_text(it) for it in example.profile])  # (N, D), unit length
        query = hist.encoder([task.retrieval_query(example.input)]).cpu()  # (1, D); queries are not cached
    scores = (items @ query[0]).tolist()  # (N,) cosine, both sides L2-normalised
    # Ties keep profile order (a stable sort), so results do not depend on numpy's argsort.
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]


def retrieve(example: Example, task: TaskSpec, retriever: str, k: int, hist: HistoryEncoder | None = None) -> list[int]:
    """Indices of the top-k profile items of one example by the named retriever (bm25, recency, dense)."""
    if retriever == "bm25":
        return retrieve_bm25(example, task, k)
    if retriever == "recency":
        return retrieve_recency(example, k)
    if retriever == "dense":
        if hist is None:
            raise ValueError("dense retrieval needs a HistoryEncoder (hist=...) for the item and query vectors")
        return retrieve_dense(example, task, k, hist)
    raise InputError(f"unknown retriever '{retriever}'; known: {', '.join(RETRIEVERS)}")


# ---- prompt templates ------------------------------------------------------------------------------------
def render(task: TaskSpec, inp: str, items: list[dict], texts: list[str] | None = None) -> str:
    """The prompt for the given items (their free field replaced by texts, if given) and the input."""
    if not items:
        return inp
    field = task.free_field
    texts = texts if texts is not None else [str(it[field]) for it in items]
    parts = []
    for it, text in zip(items, texts):
        values = {key: str(value) for key, value in it.items()}  # as LaMP's f-strings print them
        values[field] = text
        parts.append(task.item_template.format(**values))
    return task.compose(ITEM_SEP.join(parts), inp)


# ---- token budget ----------------------------------------------------------------------------------------
def _count(tokenizer: PreTrainedTokenizerBase, text: str) -> int:
    # LaMP's len(tokenizer(text)['input_ids']): special tokens included (FlanT5's </s>; SmolLM2 adds none).
    # verbose=False: long profile items would otherwise warn about the model's maximum length.
    return len(tokenizer(text, verbose=False)["input_ids"])


def _fit_items(task: TaskSpec, items: list[dict], budget: int, tokenizer: PreTrainedTokenizerBase):
    """Each item's free text cut as LaMP cuts it within budget tokens; None where LaMP's tokenizer call fails."""
    k = len(items)
    reserved = task.budget_reserve + 2 * (k - 1) + (_count(tokenizer, task.budget_suffix) if task.budget_suffix else 0)
    per_item = (budget - reserved) // k  # an equal share, template words included
    saved, texts = 0, []
    for it in items:
        cost = task.item_cost
        if isinstance(cost, str):
            cost = _count(tokenizer, cost.format(**{key: str(value) for key, value in it.items()}))
        limit = per_item + saved - cost
        if limit < 0:  # the tokenizer refuses a negative max_length; LaMP then retries with a larger budget
            return None
        ids = tokenizer(str(it[task.free_field]), max_length=limit, truncation=True, verbose=False)["input_ids"]
        saved += per_item - len(ids) - cost  # what a short item leaves unused passes on to the next
        texts.append(tokenizer.batch_decode([ids], skip_special_tokens=True)[0])
    return texts


def build_prompt(
    task: TaskSpec, inp: str, items: list[dict], tokenizer: PreTrainedTokenizerBase, max_input_tokens: int = 256
) -> str:
    """LaMP's prompt for items in retrieval order within a window of max_input_tokens tokens.

    The items get window - min(input tokens, int(0.6 * window)) tokens: an equal share each, from which the
    free text is cut (the other fields never are), what a short item leaves passing to the next. Where an
    item's fixed part does not fit its share, LaMP counts the input at 50%, 40%, ... of the window until it
    does, and gives up with the input alone. The input is never cut here (the LLM wrapper cuts a too long prompt).
    """
    if not items:
        return inp  # LaMP's split by zero items fails, and it returns the input
    n_in = _count(tokenizer, inp)
    factor = INPUT_SHARE
    while factor >= 0:  # LaMP's own float steps: 0.6, 0.5, ..., 0.1, then 2.8e-17 (the whole window)
        budget = max_input_tokens - min(n_in, int(factor * max_input_tokens))
        texts = _fit_items(task, items, budget, tokenizer)
        if texts is not None:
            return render(task, inp, items, texts)
        factor -= 0.1
    return inp


# ---- whole runs ------------------------------------------------------------------------------------------
def retrieval_prompts(
    examples: list[Example],
    task: TaskSpec,
    retriever: str,
    k: int,
    tokenizer: PreTrainedTokenizerBase,
    max_input_tokens: int = 256,
    hist: HistoryEncoder | None = None,
) -> list[str]:
    """One retrieval-augmented prompt per example (retriever: bm25, recency or dense; k items each)."""
    if retriever not in RETRIEVERS:
        raise InputError(
            f"unknown retriever '{retriever}'; known: {', '.join(RETRIEVERS)} (parse names like "
            "'bm25-k4' with minipplug.engine.methods.parse_retrieval)"
        )
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    if retriever == "dense" and hist is None:
        raise ValueError("dense retrieval needs a HistoryEncoder (hist=...) for the item and query vectors")
    prompts = []
    for ex in examples:
        chosen = [ex.profile[i] for i in retrieve(ex, task, retriever, k, hist)]
        prompts.append(build_prompt(task, ex.input, chosen, tokenizer, max_input_tokens))
    return prompts

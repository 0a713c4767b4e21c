"""Retrieval-augmented prompts: the LaMP baselines that put k retrieved history items into the prompt as text.

A retriever (BM25, recency or dense) picks k profile items; each item is rendered with its task's template,
the items are joined with ", and " and placed before the input (LaMP_1 splices them into the input).
Every item's free text is cut so that the items share one token budget and the whole prompt fits the
LLM's input window (max_input_tokens), with the input keeping at least 40% of it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import torch

from ..errors import InputError
from ..lamp.data import Example
from ..lamp.tasks import ITEM_SEP, TaskSpec, get_task

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..model.encoder import HistoryEncoder

RETRIEVERS = ("bm25", "recency", "dense")
ITEM_SHARE = 0.6  # items get at most 60% of the window, so the input keeps at least 40%


# ---- retrievers: indices of the top-k profile items, most relevant first -------------------------------
def _top_k(scores: list[float], k: int) -> list[int]:
    # Ties keep profile order (a stable sort), so results do not depend on numpy's argsort.
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]


def retrieve_bm25(example: Example, task: TaskSpec, k: int) -> list[int]:
    """Top-k items by BM25Okapi over whitespace tokens (text.split(), as LaMP does)."""
    from rank_bm25 import BM25Okapi

    corpus = [task.retrieval_text(it).split() for it in example.profile]
    if not any(corpus):  # BM25Okapi divides by the mean document length: nothing to score, keep profile order
        return list(range(min(k, len(corpus))))
    scores = BM25Okapi(corpus).get_scores(example.query.split())
    return _top_k([float(s) for s in scores], k)


def _date_key(item: dict) -> tuple[int, ...] | None:
    # Dates sort on their integer parts: '2019-2-3' < '2019-10-1', which string order gets wrong.
    parts = re.findall(r"\d+", str(item.get("date") or ""))
    return tuple(int(p) for p in parts) if parts else None


def retrieve_recency(example: Example, k: int) -> list[int]:
    """The latest k items by 'date', newest first; items without a date come last, in profile order."""
    keys = [_date_key(it) for it in example.profile]
    dated = sorted((i for i, key in enumerate(keys) if key is not None), key=lambda i: keys[i], reverse=True)
    # sorted(reverse=True) is still stable: items with equal dates keep profile order.
    undated = [i for i, key in enumerate(keys) if key is None]
    return (dated + undated)[:k]


@torch.no_grad()
def retrieve_dense(example: Example, task: TaskSpec, k: int, hist: HistoryEncoder) -> list[int]:
    """Top-k items by cosine similarity of sentence vectors (item vectors come from hist's cache)."""
    if not example.profile:
        return []
    items = hist.encode([task.retrieval_text(it) for it in example.profile])  # (N, D), unit length
    query = hist.encoder([example.query]).cpu()  # (1, D); queries are not cached: each is seen once
    scores = (items @ query[0]).tolist()  # (N,) cosine, both sides L2-normalised
    return _top_k(scores, k)


def retrieve(
    example: Example, task: str | TaskSpec, method: str, k: int, hist: HistoryEncoder | None = None
) -> list[int]:
    """Indices of the top-k profile items of one example by the named retriever (bm25, recency, dense)."""
    spec = get_task(task)
    if method == "bm25":
        return retrieve_bm25(example, spec, k)
    if method == "recency":
        return retrieve_recency(example, k)
    if method == "dense":
        if hist is None:
            raise ValueError("dense retrieval needs a HistoryEncoder (hist=...) for the item and query vectors")
        return retrieve_dense(example, spec, k, hist)
    raise InputError(f"unknown retriever '{method}'; known: {', '.join(RETRIEVERS)}")


# ---- prompt templates ------------------------------------------------------------------------------------
def render(task: str | TaskSpec, inp: str, items: list[dict], texts: list[str] | None = None) -> str:
    """The prompt for the given items (their free field replaced by texts, if given) and the input."""
    spec = get_task(task)
    if not items:
        return inp
    field = spec.free_field
    texts = texts if texts is not None else [str(it[field]) for it in items]
    parts = []
    for it, text in zip(items, texts):
        values = {key: str(value) for key, value in it.items()}
        if "score" in values:
            values["score"] = values["score"].strip()  # scores may come as " 3 " or 3
        values[field] = text
        parts.append(spec.item_template.format(**values))
    return spec.compose(ITEM_SEP.join(parts), inp)


# ---- token budget ----------------------------------------------------------------------------------------
def _ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    # No special tokens: PPlugLM counts its window (max_input_tokens) the same way.
    # verbose=False: long profile items would otherwise warn about the model's maximum length.
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def _decode(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
    # Cutting a byte-level BPE sequence can split a character in two; drop the half character.
    return tokenizer.decode(ids).rstrip("\ufffd")


def truncate(tokenizer: PreTrainedTokenizerBase, text: str, n: int) -> str:
    """The text cut to its first n tokens (unchanged if it is not longer)."""
    ids = _ids(tokenizer, text)
    return text if len(ids) <= n else _decode(tokenizer, ids[:n])


def build_prompt(
    task: str | TaskSpec, inp: str, items: list[dict], tokenizer: PreTrainedTokenizerBase, max_input_tokens: int = 256
) -> str:
    """The prompt for items in retrieval order, truncated so that it never exceeds max_input_tokens tokens.

    Items share a budget of max(0, window - input tokens), capped at 60% of the window, template words
    included; it is split equally between items, and what a short item leaves unused passes on to the
    next (as in LaMP). An item that cannot keep one token of its text is dropped, least relevant first.
    """
    spec = get_task(task)
    window = max_input_tokens
    n_in = len(_ids(tokenizer, inp))
    budget = min(max(0, window - n_in), int(ITEM_SHARE * window))
    if not items or budget == 0:
        return truncate(tokenizer, inp, window)
    limit = n_in + budget  # <= window
    full = [str(it[spec.free_field]) for it in items]
    text_ids = [_ids(tokenizer, text) for text in full]
    items = list(items)
    while items:
        k = len(items)
        # Template words, quotes, tags, titles and separators cost tokens too: measure them with empty texts.
        overhead = len(_ids(tokenizer, render(spec, inp, items, [""] * k))) - n_in
        per_item = (budget - overhead) // k
        while per_item >= 1:
            texts, spare = [], 0
            for text, ids in zip(full[:k], text_ids[:k]):
                n = min(len(ids), per_item + spare)
                spare += per_item - n
                # An uncut text stays as written (decoding may not give back the exact string).
                texts.append(text if n == len(ids) else _decode(tokenizer, ids[:n]))
            prompt = render(spec, inp, items, texts)
            excess = len(_ids(tokenizer, prompt)) - limit
            if excess <= 0:
                return prompt
            # Token counts are not additive at the seams (BPE merges across them): shrink and measure again.
            per_item -= max(1, -(-excess // k))
        items.pop()  # the least relevant item goes
    return inp  # no item fits; n_in <= window - budget here, so the input fits as it is


# ---- whole runs ------------------------------------------------------------------------------------------
def retrieval_prompts(
    examples: list[Example],
    task: str | TaskSpec,
    method: str,
    k: int,
    tokenizer: PreTrainedTokenizerBase,
    max_input_tokens: int = 256,
    hist: HistoryEncoder | None = None,
) -> list[str]:
    """One retrieval-augmented prompt per example (method: bm25, recency or dense; k items each)."""
    spec = get_task(task)
    if method not in RETRIEVERS:
        raise InputError(
            f"unknown retriever '{method}'; known: {', '.join(RETRIEVERS)} (parse names like "
            "'bm25-k4' with minipplug.engine.methods.parse_retrieval)"
        )
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    if method == "dense" and hist is None:
        raise ValueError("dense retrieval needs a HistoryEncoder (hist=...) for the item and query vectors")
    prompts = []
    for ex in examples:
        chosen = [ex.profile[i] for i in retrieve(ex, spec, method, k, hist)]
        prompts.append(build_prompt(spec, ex.input, chosen, tokenizer, max_input_tokens))
    return prompts

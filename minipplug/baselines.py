"""Every method a comparison runs, by name: what it trains, what prompt the LLM reads, whether soft tokens go in.

- non-personalized: the frozen LLM on the input alone (the paper's zero-shot row).
- bm25-kK, recency-kK, dense-kK: K retrieved history items as text in front of the input (LaMP baselines).
- pplug-no-history: the plug trained and run with every history hidden (what the task format alone gives).
- lora-per-user: a private LoRA adapter trained on each of a few users' histories (lora_per_user.py).
- pplug and the paper's variants: pplug+retrieval (the most relevant item as text, plus the soft tokens),
  pplug-mean-pooling, pplug-no-instruction, pplug-top4.
"""

from __future__ import annotations

import dataclasses

from .config import PPlugConfig
from .data import Example
from .retrieval import RETRIEVERS, parse_method, pplug_retrieval_prompts, retrieval_prompts

PPLUG_VARIANTS: dict[str, dict] = {
    "pplug": {},
    "pplug-no-history": {},
    "pplug+retrieval": {},
    "pplug-mean-pooling": {"aggregation": "mean"},
    "pplug-no-instruction": {"use_instruction": False},
    "pplug-top4": {"aggregation": "topk", "top_k": 4},
}
COMPARE_METHODS = ("non-personalized", "pplug-no-history", "bm25-k4", "recency-k4", "dense-k4", "pplug",
                   "pplug+retrieval", "pplug-mean-pooling", "pplug-no-instruction", "pplug-top4", "lora-per-user")


def is_retrieval(method: str) -> bool:
    """True for bm25-kK, recency-kK and dense-kK."""
    return method.split("-")[0].lower() in RETRIEVERS


def check_method(method: str) -> str:
    """The method name itself, or a ValueError listing the known ones."""
    if method in ("non-personalized", "lora-per-user") or method in PPLUG_VARIANTS:
        return method
    if is_retrieval(method):
        parse_method(method)  # validates the "-kK" part
        return method
    raise ValueError(f"unknown method '{method}'; known: {', '.join(COMPARE_METHODS)} (k may vary: bm25-k2, dense-k8, ...)")


def needs_training(method: str) -> bool:
    """Whether a method trains a plug."""
    return check_method(method) in PPLUG_VARIANTS


def variant_config(cfg: PPlugConfig, method: str) -> PPlugConfig:
    """The config of a PPlug variant: the base config with the variant's override."""
    return cfg.replace(**PPLUG_VARIANTS[check_method(method)])


def with_inputs(examples: list[Example], inputs: list[str]) -> list[Example]:
    """Copies of the examples whose LLM input is replaced (the query and history stay)."""
    return [dataclasses.replace(e, input=t) for e, t in zip(examples, inputs)]


def method_examples(method: str, examples: list[Example], task: str, tokenizer, max_input_tokens: int, hist=None) -> list[Example]:
    """The examples as a method's LLM reads them: retrieval methods put history items into the input text."""
    check_method(method)
    if is_retrieval(method):
        retriever, k = parse_method(method)
        return with_inputs(examples, retrieval_prompts(examples, task, retriever, k, tokenizer, max_input_tokens, hist))
    if method == "pplug+retrieval":
        return with_inputs(examples, pplug_retrieval_prompts(examples, task, tokenizer, max_input_tokens, hist))
    return examples


def predict_method(method: str) -> str:
    """The predict() mode behind a method: soft tokens with history, with history hidden, or none."""
    if method == "pplug-no-history":
        return "pplug-no-history"
    return "pplug" if method in PPLUG_VARIANTS else "non-personalized"


def method_prompts(stack, examples: list[Example], task: str, method: str) -> tuple[list[str] | None, str]:
    """(prompts replacing each input, or None; the predict() mode) for a method, used by `minipplug predict`."""
    changed = method_examples(method, examples, task, stack.plm.tokenizer, stack.cfg.max_input_tokens, stack.hist)
    prompts = [e.input for e in changed] if changed is not examples else None
    return prompts, predict_method(method)

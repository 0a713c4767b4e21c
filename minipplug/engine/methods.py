"""The method registry: every method a run can name, and what each one trains, shows the LLM and plots as.

- non-personalized: the frozen LLM on the input alone (the paper's zero-shot row).
- bm25-kK, recency-kK, dense-kK: K retrieved history items as text in front of the input (LaMP baselines).
- pplug and the paper's variants: pplug+retrieval (the most relevant item as text, plus the soft tokens),
  pplug-mean-pooling, pplug-no-instruction, pplug-top4.
- pplug-no-history: a control, the plug trained and run with every history hidden.
- pplug-swapped-history: a counterfactual, the trained pplug answering with another user's history.
- lora-per-user: a private LoRA adapter trained on each of a few users' histories (lora_per_user.py).
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field

from ..config import PPlugConfig
from ..errors import InputError
from ..lamp.data import Example
from .retrieval import RETRIEVERS, retrieval_prompts

DEFAULT_K = 4


@dataclass(frozen=True)
class Method:
    """One named method: how it is trained, what the LLM reads, and how it looks in a plot."""

    name: str
    family: str  # zero-shot | retrieval | pplug | control | fine-tuning
    help: str
    trains_plug: bool = False  # runs a trained plug (a checkpoint), made by `minipplug train --method`
    plug_of: str | None = None  # the method whose trained plug it runs, when not its own (a counterfactual)
    overrides: dict = field(default_factory=dict)  # the plug's config override
    retriever: str | None = None  # history items as text in the prompt: bm25 | recency | dense
    k: int = 0  # how many retrieved items
    history: str = "none"  # soft tokens from the user's "own" history, "hidden" (empty), "swapped", or "none"
    marker: str = "^"  # matplotlib marker of its family

    @property
    def plug_name(self) -> str | None:
        """The method a checkpoint must have been trained as for this method to run it."""
        return (self.plug_of or self.name) if self.trains_plug else None

    @property
    def trains(self) -> bool:
        """Whether the method trains a plug of its own (what `minipplug train --method` accepts)."""
        return self.trains_plug and self.plug_of is None

    @property
    def soft(self) -> str:
        """The soft-token mode of predict(): own, hidden or none (a swapped history is an own one, replaced)."""
        return {"swapped": "own"}.get(self.history, self.history)


_FIXED = [
    Method("non-personalized", "zero-shot", "the frozen LLM on the input alone", marker="^"),
    Method("pplug", "pplug", "PPlug: soft tokens from the user's whole history", True, history="own", marker="o"),
    Method(
        "pplug+retrieval",
        "pplug",
        "PPlug plus the most relevant history item as text",
        True,
        retriever="dense",
        k=1,
        history="own",
        marker="o",
    ),
    Method(
        "pplug-mean-pooling",
        "pplug",
        "PPlug with mean pooling instead of input-aware attention",
        True,
        overrides={"aggregation": "mean"},
        history="own",
        marker="o",
    ),
    Method(
        "pplug-no-instruction",
        "pplug",
        "PPlug without the instruction embedding",
        True,
        overrides={"use_instruction": False},
        history="own",
        marker="o",
    ),
    Method(
        "pplug-top4",
        "pplug",
        "PPlug that keeps only the 4 best-scoring history items",
        True,
        overrides={"aggregation": "topk", "top_k": 4},
        history="own",
        marker="o",
    ),
    Method(
        "pplug-no-history",
        "control",
        "control: the plug trained and run with every history hidden",
        True,
        history="hidden",
        marker="D",
    ),
    Method(
        "pplug-swapped-history",
        "control",
        "counterfactual: the trained pplug reads another user's history",
        True,
        plug_of="pplug",
        history="swapped",
        marker="X",
    ),
    Method("lora-per-user", "fine-tuning", "one LoRA adapter trained on each of a few users' histories", marker="*"),
]
METHODS: dict[str, Method] = {m.name: m for m in _FIXED}
COMPARE_METHODS = (
    "non-personalized",
    "pplug-no-history",
    "bm25-k4",
    "recency-k4",
    "dense-k4",
    "pplug",
    "pplug-swapped-history",
    "pplug+retrieval",
    "pplug-mean-pooling",
    "pplug-no-instruction",
    "pplug-top4",
    "lora-per-user",
)
TRAINABLE = tuple(m.name for m in _FIXED if m.trains)
_RETRIEVAL = re.compile(r"^(bm25|recency|dense)(?:-k(\d+))?$")


def parse_retrieval(name: str) -> tuple[str, int]:
    """'bm25-k4' -> ('bm25', 4); 'recency' -> ('recency', 4). Raises InputError for anything else."""
    m = _RETRIEVAL.match(name.strip().lower())
    if m is None or (m.group(2) is not None and int(m.group(2)) < 1):
        raise InputError(
            f"unknown retrieval method '{name}': expected bm25, recency or dense, optionally followed by "
            f"-k<N> with N >= 1 items (default {DEFAULT_K}), e.g. bm25-k4, recency-k2, dense-k8"
        )
    return m.group(1), int(m.group(2)) if m.group(2) else DEFAULT_K


def get_method(name: str) -> Method:
    """The registered method, or a retrieval method bm25-kK / recency-kK / dense-kK; InputError otherwise."""
    if name in METHODS:
        return METHODS[name]
    if name.split("-")[0].lower() in RETRIEVERS:
        retriever, k = parse_retrieval(name)
        return Method(name, "retrieval", f"{k} items by {retriever} as text", retriever=retriever, k=k, marker="s")
    raise InputError(
        f"unknown method '{name}'; known: {', '.join(COMPARE_METHODS)} (k may vary: bm25-k2, dense-k8, ...)"
    )


def method_help() -> str:
    """One line per method, for the CLI's --help."""
    return "; ".join(f"{m.name}: {m.help}" for m in _FIXED) + "; bm25-kK, recency-kK, dense-kK: K retrieved items"


def variant_config(cfg: PPlugConfig, method: str) -> PPlugConfig:
    """The config of the plug a method runs: the base config with the method's override."""
    m = get_method(method)
    return cfg.replace(**get_method(m.plug_of).overrides if m.plug_of else m.overrides)


def with_inputs(examples: list[Example], inputs: list[str]) -> list[Example]:
    """Copies of the examples whose LLM input is replaced (the query and history stay)."""
    return [dataclasses.replace(e, input=t) for e, t in zip(examples, inputs)]


def derangement(users: list[str], seed: int = 0) -> dict[str, str]:
    """A seeded permutation of the users with no fixed point (Sattolo's algorithm: one random cycle)."""
    if len(users) < 2:
        raise InputError(f"a swapped history needs at least 2 users, got {len(users)}")
    order = list(users)
    rng = random.Random(seed)
    for i in range(len(order) - 1, 0, -1):
        j = rng.randrange(i)  # j < i (never i itself): every element moves
        order[i], order[j] = order[j], order[i]
    return dict(zip(users, order))


def swap_histories(examples: list[Example], seed: int = 0) -> list[Example]:
    """Copies of the examples in which each user's history is another user's (a seeded derangement)."""
    firsts: dict[str, Example] = {}
    for e in examples:
        firsts.setdefault(e.user if e.user is not None else e.id, e)
    other = derangement(list(firsts), seed)
    out = []
    for e in examples:
        donor = firsts[other[e.user if e.user is not None else e.id]]
        out.append(dataclasses.replace(e, history=donor.history, profile=donor.profile))
    return out


def method_examples(
    method: str, examples: list[Example], task: str, tokenizer, max_input_tokens: int, hist=None, seed: int = 0
) -> list[Example]:
    """The examples as a method's LLM reads them: retrieved items in the input text, or another user's history."""
    m = get_method(method)
    if m.retriever:
        prompts = retrieval_prompts(examples, task, m.retriever, m.k, tokenizer, max_input_tokens, hist)
        examples = with_inputs(examples, prompts)
    if m.history == "swapped":
        examples = swap_histories(examples, seed)
    return examples

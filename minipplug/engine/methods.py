"""The method registry: every method a run can name, and what each one trains, shows the LLM and plots as.

- non-personalized: the frozen LLM on the input alone (the paper's zero-shot row).
- bm25-kK, recency-kK, dense-kK: K retrieved history items as text in front of the input (LaMP baselines).
- pplug and the paper's variants: pplug+retrieval (the most relevant item as text, plus the soft tokens),
  pplug-mean-pooling, pplug-no-instruction, pplug-top4.
- pplug-no-history: a control, the plug trained and run with every history hidden.
- pplug-swapped-history: a counterfactual, the trained pplug answering with another user's history.
- lora-per-user: a private LoRA adapter trained on each of a few users' histories (lora_per_user.py).
- rule-input-only, rule-history-majority, rule-top1-retrieved: one-line rules without the LLM (lamp/rules.py),
  the floor any learned method must clear on a label task.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from ..config import PPlugConfig
from ..errors import InputError
from ..lamp.data import Example
from ..lamp.rules import InputOnly, majority_label, retrieved_label
from ..lamp.tasks import TaskSpec
from .retrieval import RETRIEVERS, retrieval_prompts

DEFAULT_K = 4


class History(str, Enum):
    """The history a plug reads for each question (a method without a plug reads none as soft tokens)."""

    OWN = "own"  # the user's own history
    SWAPPED = "swapped"  # another user's: the examples arrive with swapped histories (methods.swap_histories)
    HIDDEN = "hidden"  # every history empty: what the plug makes of the query alone


@dataclass(frozen=True, kw_only=True)
class Method:
    """One named method: how it is trained, what the LLM reads, and how it looks in a plot."""

    name: str
    family: str  # zero-shot | retrieval | pplug | control | fine-tuning | rule
    help: str
    # The method a plug must have been trained as for this one to run it: its own name, "pplug" for the
    # counterfactual that runs pplug's plug, None for a method without a plug.
    plug_method: str | None = None
    history: History = History.OWN  # the history the plug reads (with a plug only)
    overrides: dict = field(default_factory=dict)  # the plug's config override
    retriever: str | None = None  # history items as text in the prompt: bm25 | recency | dense
    k: int = 0  # how many retrieved items
    rule: str | None = None  # the lamp/rules.py rule it runs, no LLM: input-only | history-majority | top1-retrieved
    marker: str = "^"  # matplotlib marker of its family

    @property
    def trains(self) -> bool:
        """Whether the method trains a plug of its own (what `minipplug train --method` accepts)."""
        return self.plug_method == self.name


def _pplug(name: str, help_text: str, **fields) -> Method:
    """A method that trains and runs its own plug (PPlug or one of the paper's variants)."""
    return Method(name=name, family="pplug", help=help_text, plug_method=name, marker="o", **fields)


def _rule(rule: str, help_text: str) -> Method:
    """A one-line rule of lamp/rules.py as a method: no LLM, no plug."""
    return Method(name=f"rule-{rule}", family="rule", help=help_text, rule=rule, marker="P")


_FIXED = [
    Method(name="non-personalized", family="zero-shot", help="the frozen LLM on the input alone", marker="^"),
    _pplug("pplug", "PPlug: soft tokens from the user's whole history"),
    _pplug("pplug+retrieval", "PPlug plus the most relevant history item as text", retriever="dense", k=1),
    _pplug(
        "pplug-mean-pooling",
        "PPlug with mean pooling instead of input-aware attention",
        overrides={"aggregation": "mean"},
    ),
    _pplug("pplug-no-instruction", "PPlug without the instruction embedding", overrides={"use_instruction": False}),
    _pplug(
        "pplug-top4",
        "PPlug that keeps only the 4 best-scoring history items",
        overrides={"aggregation": "topk", "top_k": 4},
    ),
    Method(
        name="pplug-no-history",
        family="control",
        help="control: the plug trained and run with every history hidden",
        plug_method="pplug-no-history",
        history=History.HIDDEN,
        marker="D",
    ),
    Method(
        name="pplug-swapped-history",
        family="control",
        help="counterfactual: the trained pplug reads another user's history",
        plug_method="pplug",
        history=History.SWAPPED,
        marker="X",
    ),
    Method(
        name="lora-per-user",
        family="fine-tuning",
        help="one LoRA adapter trained on each of a few users' histories",
        marker="*",
    ),
    _rule("input-only", "rule: the best guess from the input alone, fitted on the training questions"),
    _rule("history-majority", "rule: the label the user's whole history uses most"),
    _rule("top1-retrieved", "rule: the label of the history item BM25 ranks first for the input"),
]
METHODS: dict[str, Method] = {m.name: m for m in _FIXED}
COMPARE_METHODS = (
    "rule-input-only",
    "rule-history-majority",
    "rule-top1-retrieved",
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
RULES = tuple(m.name for m in _FIXED if m.family == "rule")
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
        text = f"{k} items by {retriever} as text"
        return Method(name=name, family="retrieval", help=text, retriever=retriever, k=k, marker="s")
    raise InputError(
        f"unknown method '{name}'; known: {', '.join(COMPARE_METHODS)} (k may vary: bm25-k2, dense-k8, ...)"
    )


def method_help() -> str:
    """One line per method, for the CLI's --help."""
    return "; ".join(f"{m.name}: {m.help}" for m in _FIXED) + "; bm25-kK, recency-kK, dense-kK: K retrieved items"


def rule_skip_reason(method: Method, task: TaskSpec, train_ex: list[Example]) -> str | None:
    """Why a rule cannot answer this task (None: it can): rules answer label tasks only."""
    if not task.labels:
        return f"{task.name} answers are free text, not labels"
    if method.rule != "input-only" and task.persona_field is None:
        return f"{task.name} history items carry no label to read"
    if method.rule == "input-only" and not train_ex:
        return "no training questions to fit the input-alone guess on"
    return None


def rule_answerer(method: Method, task: TaskSpec, train_ex: list[Example]) -> Callable[[Example], str]:
    """The rule's function from an Example to an answer (input-only fitted on train_ex here)."""
    if method.rule == "input-only":
        return InputOnly(train_ex, task)
    if method.rule == "history-majority":
        return lambda e: majority_label(e, task)
    if method.rule == "top1-retrieved":
        return lambda e: retrieved_label(e, task)
    raise ValueError(f"{method.name} is not a rule")


def variant_config(cfg: PPlugConfig, method: Method) -> PPlugConfig:
    """The config of the plug a method runs: the base config with the override of the method it was trained as."""
    return cfg.replace(**METHODS[method.plug_method].overrides) if method.plug_method else cfg


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
    method: Method,
    examples: list[Example],
    task: TaskSpec,
    *,
    tokenizer=None,
    max_input_tokens: int = 256,
    hist=None,
    seed: int = 0,
) -> list[Example]:
    """The examples as a method's LLM reads them: retrieved items in the input text, or another user's history."""
    if method.retriever:
        prompts = retrieval_prompts(examples, task, method.retriever, method.k, tokenizer, max_input_tokens, hist)
        examples = with_inputs(examples, prompts)
    if method.history is History.SWAPPED:
        examples = swap_histories(examples, seed)
    return examples

"""Automatic checks for the course exercises of notebook 06.

Each check calls a student's function on fixed inputs (seeded random tensors, or hand-written examples) and
compares it with minipplug's own implementation. It never raises: it returns a CheckResult whose text is
"passed" or "not yet: <reason>", so a notebook with blank stubs still runs to the end.

Exercises (signatures):
- attention_weights(query (B, D), history (B, N, D), mask (B, N), temperature) -> weights (B, N)     [Eq. 3]
- mean_pooling(projected (B, N, D), mask (B, N)) -> P_u (B, D)              [the "mean pooling" ablation]
- build_inputs_embeds(embedding, instruction (B, n_i, D), user (B, n_u, D), input_ids (B, T))
      -> [I ; P_u ; Emb(x)] (B, n_i + n_u + T, D)                                   [the injection]
- recency_prompt(inp, profile, k) -> the LaMP_2 retrieval-augmented prompt with the k most recent items
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..model.aggregation import aggregation_weights


@dataclass
class CheckResult:
    """The outcome of one check: passed or not, and why."""

    name: str
    passed: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{self.name}: passed ({self.message})" if self.passed else f"{self.name}: not yet: {self.message}"

    __repr__ = __str__


class _NotYet(Exception):
    """A reason why a student's function is not right yet."""


def _call(fn: Callable, *args):
    """Call a student's function; turn every way of failing into one readable reason."""
    try:
        out = fn(*args)
    except NotImplementedError:
        raise _NotYet(
            "the function is still a stub (it raises NotImplementedError): write your code in its place"
        ) from None
    except Exception as e:  # a student's bug: say what it was
        raise _NotYet(f"calling it raised {type(e).__name__}: {e}") from None
    if out is None:
        raise _NotYet("it returned None: did you forget the `return`?")
    return out


def _tensor(out, shape: tuple[int, ...], case: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise _NotYet(f"case '{case}': expected a torch.Tensor, got {type(out).__name__}")
    if tuple(out.shape) != shape:
        raise _NotYet(f"case '{case}': shape {tuple(out.shape)}, expected {shape}")
    if torch.isnan(out).any():
        raise _NotYet(f"case '{case}': the result contains NaN")
    return out


def _close(out: torch.Tensor, want: torch.Tensor, case: str, atol: float = 1e-5) -> None:
    diff = float((out.detach().float() - want.float()).abs().max()) if out.numel() else 0.0
    if diff > atol:
        raise _NotYet(f"case '{case}': wrong values (largest difference {diff:.3g})")


def _run(name: str, body: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, body())
    except _NotYet as e:
        return CheckResult(name, False, str(e))


def _unit(*shape: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(*shape, generator=gen)
    return x / x.norm(dim=-1, keepdim=True)


# ---- 1. input-aware attention (Eq. 3) --------------------------------------------------------------------
def _attention_cases() -> list[tuple[str, tuple, float]]:
    g = torch.Generator().manual_seed(0)
    full = torch.ones(2, 5, dtype=torch.bool)
    padded = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    empty = torch.tensor([[True, True, False, False], [False, False, False, False]])
    return [
        ("two users, five items each, temperature 1", (_unit(2, 8, gen=g), _unit(2, 5, 8, gen=g), full), 1.0),
        (
            "padding in the second user's history, temperature 0.1",
            (_unit(2, 8, gen=g), _unit(2, 6, 8, gen=g), padded),
            0.1,
        ),
        (
            "a user with an empty history (all-zero weights, never NaN)",
            (_unit(2, 8, gen=g), _unit(2, 4, 8, gen=g), empty),
            0.5,
        ),
    ]


def check_attention(fn: Callable) -> CheckResult:
    """Check attention_weights(query, history, mask, temperature) against minipplug.aggregation (mode attention)."""

    def body() -> str:
        cases = _attention_cases()
        for case, (q, h, m), tau in cases:
            out = _tensor(_call(fn, q.clone(), h.clone(), m.clone(), tau), tuple(m.shape), case)
            want = aggregation_weights(q, h, m, "attention", tau)
            if (out[~m].abs() > 1e-6).any():
                raise _NotYet(f"case '{case}': padding items got weight (mask them out before the softmax)")
            _close(out, want, case)
        return f"{len(cases)} cases"

    return _run("check_attention", body)


# ---- 2. mean pooling (the paper's ablation) ----------------------------------------------------------------
def check_mean_pooling(fn: Callable) -> CheckResult:
    """Check mean_pooling(projected, mask) against minipplug's mean aggregation: sum_i w_i Proj(h_i), w uniform."""

    def body() -> str:
        g = torch.Generator().manual_seed(1)
        cases = [
            ("two users, four items each", torch.randn(2, 4, 6, generator=g), torch.ones(2, 4, dtype=torch.bool)),
            (
                "padding: 2 and 5 real items",
                torch.randn(2, 5, 6, generator=g),
                torch.tensor([[True, True, False, False, False], [True] * 5]),
            ),
            (
                "a user with an empty history (a zero vector, never NaN)",
                torch.randn(2, 3, 6, generator=g),
                torch.tensor([[False] * 3, [True, False, True]]),
            ),
        ]
        for case, x, m in cases:
            out = _tensor(_call(fn, x.clone(), m.clone()), (x.shape[0], x.shape[2]), case)
            w = aggregation_weights(torch.zeros(x.shape[0], x.shape[2]), x, m, "mean")  # (B, N)
            want = torch.einsum("bn,bnd->bd", w, x)  # (B, D), as PersonaPlug.forward combines projected items
            _close(out, want, case)
        return f"{len(cases)} cases"

    return _run("check_mean_pooling", body)


# ---- 3. injection: [I ; P_u ; Emb(x)] ----------------------------------------------------------------------
WORDS = "a the movie about robot who learns to love in space which tag fits this film two friends and dog".split()


def _word_tokenizer():
    """A tiny word-level tokenizer (no special tokens added), so prompts map to ids one word each."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>"] + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tiny_llm(width: int = 16):
    """A randomly initialised 1-layer Llama with the word-level tokenizer (seeded), wrapped as minipplug's LoadedLLM."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from ..model.injection import LoadedLLM

    tok = _word_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
        tie_word_embeddings=False,
        initializer_range=0.5,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.requires_grad_(False)
    return LoadedLLM("tiny-llama", model, tok)


def check_injection(fn: Callable) -> CheckResult:
    """Check build_inputs_embeds(embedding, instruction, user, input_ids) against minipplug's PPlugLM.build."""

    def body() -> str:
        from ..model.injection import PPlugLM

        llm = tiny_llm()
        # The paper's literal layout: soft tokens first, then the prompt (no chat template, no padding).
        plm = PPlugLM(llm, chat_template=False, soft_position="start")
        emb, D = llm.model.get_input_embeddings(), plm.dim
        g = torch.Generator().manual_seed(2)
        prompts = [
            ["a robot who learns to love", "two friends and a robot dog"],
            ["which tag fits this movie about space"],
        ]
        n = 0
        for n_i, n_u, batch in [(1, 1, prompts[0]), (2, 3, prompts[1])]:
            B = len(batch)
            ids = torch.tensor([plm.prompt_ids(p) for p in batch])  # (B, T); prompts of equal length: no padding
            instr, user = torch.randn(B, n_i, D, generator=g), torch.randn(B, n_u, D, generator=g)
            case = f"{n_i} instruction + {n_u} user tokens, batch of {B}"
            with torch.no_grad():
                out = _tensor(
                    _call(fn, emb, instr.clone(), user.clone(), ids.clone()), (B, n_i + n_u + ids.shape[1], D), case
                )
                want = plm.build(batch, torch.cat([instr, user], dim=1))["inputs_embeds"]  # minipplug's own injection
                swapped = plm.build(batch, torch.cat([user, instr], dim=1))["inputs_embeds"]
                if n_i == n_u and torch.allclose(out, swapped, atol=1e-5) and not torch.allclose(out, want, atol=1e-5):
                    raise _NotYet(f"case '{case}': the instruction token(s) must come first: [I ; P_u ; Emb(x)]")
                if not torch.allclose(out[:, n_i + n_u :], want[:, n_i + n_u :], atol=1e-5):
                    raise _NotYet(f"case '{case}': the last T rows must be the token embeddings Emb(x) of input_ids")
                _close(out, want, case)
                # The frozen LLM reads the student's sequence exactly as it reads minipplug's.
                _close(
                    llm.model(inputs_embeds=out).logits, plm(batch, torch.cat([instr, user], dim=1)).logits, case, 1e-4
                )
            n += 1
        return f"{n} cases, same logits from the frozen LLM"

    return _run("check_injection", body)


# ---- 4. a LaMP retrieval prompt (recency, LaMP_2 template) ------------------------------------------------
INPUT = (
    "Which tag does this movie relate to among the following tags? Just answer with the tag name without further "
    "explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy, classic, "
    "psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] description: "
    "A robot learns to love."
)
PROFILE = [
    {"id": "m1", "description": "Ships fight in space.", "tag": "sci-fi", "date": "2019-2-3"},
    {"id": "m2", "description": "A wizard school.", "tag": "fantasy", "date": "2019-10-1"},
    {"id": "m3", "description": "Two friends, one dog.", "tag": "comedy", "date": "2018-12-30"},
    {"id": "m4", "description": "A heist on a train.", "tag": "action"},
    {"id": "m5", "description": "Love letters in Paris.", "tag": "romance", "date": "2019-2-14"},
]


def check_retrieval_prompt(fn: Callable) -> CheckResult:
    """Check recency_prompt(inp, profile, k) against minipplug.retrieval (recency retriever, LaMP_2 template)."""

    def body() -> str:
        from ..engine.retrieval import render, retrieve_recency
        from ..lamp.data import Example

        cases = [
            ("k=2", PROFILE, 2),
            ("k=1", PROFILE, 1),
            ("k larger than the profile (undated items last)", PROFILE, 9),
            ("empty profile (the input alone)", [], 3),
        ]
        for case, profile, k in cases:
            out = _call(fn, INPUT, [dict(it) for it in profile], k)
            if not isinstance(out, str):
                raise _NotYet(f"case '{case}': expected a str, got {type(out).__name__}")
            ex = Example("q", INPUT, "A robot learns to love.", [], profile)
            want = render("LaMP_2", INPUT, [profile[i] for i in retrieve_recency(ex, k)])
            if out != want:
                at = next((i for i, (a, b) in enumerate(zip(out, want)) if a != b), min(len(out), len(want)))
                raise _NotYet(
                    f"case '{case}': the prompt differs from character {at} on: got {out[at : at + 40]!r}, "
                    f"expected {want[at : at + 40]!r}"
                )
        return f"{len(cases)} cases"

    return _run("check_retrieval_prompt", body)

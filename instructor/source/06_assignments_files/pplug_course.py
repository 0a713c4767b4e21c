"""Support code for notebook 06 (the PPlug assignments): tiny models, synthetic data and safe calls.

Shipped to students and to the autograder alike, so it holds NO solution: only what the tasks and their
tests need around the student's code.

- ``tiny_llm(seed)``: a frozen, randomly initialised 2-layer Llama (vocabulary 64, width 32). No tokenizer: the
  tasks use token ids directly (0 is the padding id).
- ``personalization_data(seed)``: a synthetic task where only the history tells the answer (Task 5).
- ``call(fn, *args, seconds=...)``: calls a student's function with a time limit, refusing minipplug's own code
  as a shortcut, and turns a blank stub into a readable failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import sys
import threading

import torch

PAD_ID = 0
VOCAB = 64
LLM_DIM = 32
ENC_DIM = 16
SECONDS = 10  # per call of a student's function: a loop that never ends fails its task, not the whole run
_TIMED_OUT: set = set()  # functions that already ran out of time: later calls fail at once


def tiny_llm(seed: int = 0) -> torch.nn.Module:
    """A frozen 2-layer Llama with random weights (seeded): vocabulary 64, width 32, padding id 0, eval mode."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=LLM_DIM, intermediate_size=2 * LLM_DIM, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, pad_token_id=PAD_ID,
                      bos_token_id=None, eos_token_id=None, tie_word_embeddings=False, initializer_range=0.2)
    model = LlamaForCausalLM(cfg).eval()
    model.requires_grad_(False)
    return model


def personalization_data(seed: int = 0, users: int = 8, items: int = 6, dim: int = ENC_DIM) -> dict:
    """A synthetic personalization task (Task 5): the answer of user u is token 40 + u, the prompt is the same for
    everyone, and only the history says who is asking.

    Each user has a hidden prototype (a unit vector); their history items are noisy copies of it (3 to ``items``
    real items, zero-padded, ``mask`` True on real ones); the query vectors are random (they carry no answer).
    Returns prompt (T,), answers (U,), history (U, N, E), mask (U, N), query (U, E).
    """
    g = torch.Generator().manual_seed(seed)
    proto = torch.nn.functional.normalize(torch.randn(users, dim, generator=g), dim=-1)
    history = torch.nn.functional.normalize(proto[:, None, :] + 0.5 * torch.randn(users, items, dim, generator=g), dim=-1)
    lengths = torch.randint(3, items + 1, (users,), generator=g)
    mask = torch.arange(items)[None, :] < lengths[:, None]
    history = history * mask[..., None]
    query = torch.nn.functional.normalize(torch.randn(users, dim, generator=g), dim=-1)
    return dict(prompt=torch.tensor([5, 6, 7, 8]), answers=torch.arange(40, 40 + users), history=history, mask=mask,
                query=query)


def _package_dir() -> str | None:
    spec = importlib.util.find_spec("minipplug")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.realpath(list(spec.submodule_search_locations)[0]) + os.sep


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise TimeoutError in the calling (main) thread after ``seconds``; a no-op elsewhere (no SIGALRM)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"it ran for more than {seconds} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _watch_package(used: list):
    """Record in ``used`` whether any function of the minipplug package runs inside the block."""
    root = _package_dir()
    if root is None:
        yield
        return
    previous = sys.getprofile()
    seen: dict[str, bool] = {}

    def profile(frame, event, arg):
        if event != "call" or used:
            return
        file = frame.f_code.co_filename
        inside = seen.get(file)
        if inside is None:
            inside = seen[file] = os.path.realpath(file).startswith(root)
        if inside:
            used.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)


def call(fn, *args, seconds: float = SECONDS, name: str | None = None):
    """Call a student's ``fn(*args)`` the way the tests do.

    Fails (AssertionError, with a reason) when ``fn`` is missing, is still the blank stub, is (or calls) minipplug's
    own implementation, returns None, or runs longer than ``seconds`` (TimeoutError; later calls of the same function then fail at once).
    Other exceptions propagate unchanged.
    """
    name = name or getattr(fn, "__name__", "the function")
    assert fn is not None, f"{name} is not defined: run its cell first"
    module = getattr(fn, "__module__", "") or ""
    assert not module.startswith("minipplug"), f"{name} is minipplug's own code: write your own implementation"
    key = getattr(fn, "__code__", None) or id(fn)
    if key in _TIMED_OUT:
        raise TimeoutError(f"{name} ran for more than {seconds} s before (an endless loop?)")
    used: list = []
    try:
        with _time_limit(seconds), _watch_package(used):
            out = fn(*args)
    except NotImplementedError:
        raise AssertionError(f"{name} is still the blank stub (it raises NotImplementedError)") from None
    except TimeoutError:
        _TIMED_OUT.add(key)
        raise
    assert not used, f"{name} calls minipplug's own code ({used[0]}): write your own implementation"
    assert out is not None, f"{name} returned None: did you forget the `return`?"
    return out

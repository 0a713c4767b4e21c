"""The exercise checks of notebook 06: they fail on blank stubs and on typical wrong answers, pass on the reference."""

from __future__ import annotations

import re

import assignment_solutions as sol
import pytest
import torch

from minipplug.course.assignments import (
    check_attention,
    check_injection,
    check_mean_pooling,
    check_retrieval_prompt,
)

CHECKS = {
    "attention": (check_attention, sol.attention_weights),
    "mean_pooling": (check_mean_pooling, sol.mean_pooling),
    "injection": (check_injection, sol.build_inputs_embeds),
    "retrieval_prompt": (check_retrieval_prompt, sol.recency_prompt),
}


def stub(*args):
    """What the notebook's blank exercise cells hold."""
    raise NotImplementedError


def returns_nothing(*args):
    pass


@pytest.mark.parametrize("name", CHECKS)
def test_reference_solution_passes(name):
    check, solution = CHECKS[name]
    result = check(solution)
    assert result.passed and bool(result), str(result)
    assert str(result).startswith(f"check_{name}: passed")


@pytest.mark.parametrize("name", CHECKS)
def test_blank_stub_fails_without_raising(name):
    check, _ = CHECKS[name]
    result = check(stub)
    assert not result.passed and not bool(result)
    assert str(result) == (
        f"check_{name}: not yet: the function is still a stub (it raises NotImplementedError): "
        "write your code in its place"
    )
    assert not check(returns_nothing).passed
    assert "forget the `return`" in check(returns_nothing).message


@pytest.mark.parametrize("name", CHECKS)
def test_a_crashing_answer_is_reported_not_raised(name):
    check, _ = CHECKS[name]

    def crashes(*args):
        raise ValueError("oops")

    result = check(crashes)
    assert not result.passed and result.message == "calling it raised ValueError: oops"


# ---- wrong answers a student might write --------------------------------------------------------------------
def attention_without_mask(query, history, mask, temperature=1.0):
    return torch.softmax((history @ query[:, :, None]).squeeze(-1) / temperature, dim=-1)


def attention_without_temperature(query, history, mask, temperature=1.0):
    return sol.attention_weights(query, history, mask, 1.0)


def attention_nan_on_empty_history(query, history, mask, temperature=1.0):
    scores = (history @ query[:, :, None]).squeeze(-1) / temperature
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def mean_ignoring_mask(projected, mask):
    return projected.mean(1)


def mean_dividing_by_zero(projected, mask):
    m = mask.float()[..., None]
    return (projected * m).sum(1) / m.sum(1)


def injection_user_first(embedding, instruction, user, input_ids):
    return torch.cat([user, instruction, embedding(input_ids)], dim=1)


def injection_without_user(embedding, instruction, user, input_ids):
    return torch.cat([instruction, embedding(input_ids)], dim=1)


def injection_random_token_rows(embedding, instruction, user, input_ids):
    return torch.cat([instruction, user, torch.zeros_like(embedding(input_ids))], dim=1)


def recency_by_string_dates(inp, profile, k):
    # '2019-2-3' > '2019-10-1' as strings: the trap LaMP's dates set.
    items = sorted(profile, key=lambda it: it.get("date", ""), reverse=True)[:k]
    return (
        (", and ".join(f'the tag for the movie: "{it["description"]}" is "{it["tag"]}"' for it in items) + ". " + inp)
        if items
        else inp
    )


def recency_oldest_first(inp, profile, k):
    dated = sorted((it for it in profile if "date" in it), key=lambda it: tuple(map(int, it["date"].split("-"))))
    items = (dated + [it for it in profile if "date" not in it])[:k]
    return (
        (", and ".join(f'the tag for the movie: "{it["description"]}" is "{it["tag"]}"' for it in items) + ". " + inp)
        if items
        else inp
    )


@pytest.mark.parametrize(
    "check, wrong, reason",
    [
        (check_attention, attention_without_mask, "padding items got weight"),
        (check_attention, attention_without_temperature, "wrong values"),
        (check_attention, attention_nan_on_empty_history, "contains NaN"),
        (check_mean_pooling, mean_ignoring_mask, "wrong values"),
        (check_mean_pooling, mean_dividing_by_zero, "contains NaN"),
        (check_injection, injection_user_first, "the instruction token(s) must come first"),
        (check_injection, injection_without_user, "shape"),
        (check_injection, injection_random_token_rows, "token embeddings Emb(x)"),
        (check_retrieval_prompt, recency_by_string_dates, "the prompt differs"),
        (check_retrieval_prompt, recency_oldest_first, "the prompt differs"),
    ],
)
def test_wrong_answers_fail_with_a_reason(check, wrong, reason):
    result = check(wrong)
    assert not result.passed, str(result)
    assert reason in result.message, result.message
    assert re.match(r"check_\w+: not yet: ", str(result))


def test_checks_do_not_change_the_inputs_the_next_case_sees():
    # A solution that writes into its inputs still gets a fair verdict (each case hands out copies).
    def in_place(query, history, mask, temperature=1.0):
        out = sol.attention_weights(query, history, mask, temperature)
        history.zero_()
        return out

    assert check_attention(in_place).passed

"""Reference solutions of notebook 06's exercises, in plain torch and Python (written apart from minipplug's code,
so that the checks compare two independent implementations)."""

from __future__ import annotations

import re

import torch


def attention_weights(
    query: torch.Tensor, history: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """w_i = softmax_i(q . h_i / tau) over the real items of each user; all zeros for an empty history (Eq. 3)."""
    scores = (history * query[:, None, :]).sum(-1) / temperature  # (B, N)
    scores = scores.masked_fill(~mask.bool(), float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # a row of only -inf gives NaN ...
    return torch.nan_to_num(weights, nan=0.0)  # ... which becomes 0: an empty history adds nothing


def mean_pooling(projected: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of each user's real projected items (B, D); a zero vector for an empty history."""
    m = mask.to(projected.dtype)[..., None]  # (B, N, 1)
    count = m.sum(1).clamp(min=1.0)  # (B, 1): never divide by zero
    return (projected * m).sum(1) / count  # (B, D)


def build_inputs_embeds(
    embedding: torch.nn.Module, instruction: torch.Tensor, user: torch.Tensor, input_ids: torch.Tensor
) -> torch.Tensor:
    """[I ; P_u ; Emb(x)]: the soft tokens, then the embeddings of the prompt's tokens (B, n_i + n_u + T, D)."""
    tokens = embedding(input_ids)  # (B, T, D)
    return torch.cat([instruction.to(tokens.dtype), user.to(tokens.dtype), tokens], dim=1)


def recency_prompt(inp: str, profile: list[dict], k: int) -> str:
    """The LaMP_2 prompt with the k most recent profile items (newest first; undated items last, in profile order)."""

    def date(item: dict) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", str(item.get("date") or "")))

    dated = [it for it in profile if date(it)]
    undated = [it for it in profile if not date(it)]
    # sorted() is stable: equal dates keep profile order, also with reverse=True.
    chosen = (sorted(dated, key=date, reverse=True) + undated)[:k]
    if not chosen:
        return inp
    items = ", and ".join(f'the tag for the movie: "{it["description"]}" is "{it["tag"]}"' for it in chosen)
    return f"{items}. {inp}"

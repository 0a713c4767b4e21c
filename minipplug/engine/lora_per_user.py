"""One LoRA per user (the OPPU / "FTP" row): fine-tune a private adapter on each user's own history.

Each profile item becomes a training pair in the task's own format (the item's text as the query, its label
as the target). The cost grows with the number of users, which is the point PPlug makes against it.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict

import torch

from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import metric_keys, score
from ..lamp.tasks import TaskSpec
from ..model.injection import LoadedLLM, PPlugLM
from .predict import predict


def history_pairs(example: Example, task: TaskSpec) -> list[tuple[str, str]]:
    """The user's profile items as (LLM input, target) pairs, with the question's own instruction."""
    if task.item_pair is None:
        raise InputError(f"lora-per-user needs input/output pairs in the profile; {task.name} has none")
    q_field, t_field = task.item_pair
    prefix = example.input[: len(example.input) - len(example.query)] if example.input.endswith(example.query) else ""
    return [(prefix + str(it[q_field]), str(it[t_field]).strip()) for it in example.profile]


def _lora_targets(model: torch.nn.Module) -> list[str]:
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    return [t for t in ("q_proj", "v_proj", "q", "v") if t in names]


def train_user_lora(
    plm: PPlugLM,
    pairs: list[tuple[str, str]],
    *,
    r: int = 8,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 4,
    seed: int = 0,
) -> PPlugLM:
    """A copy of the frozen LLM with a LoRA adapter trained on one user's pairs."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    base = copy.deepcopy(plm.model)
    model = get_peft_model(
        base, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules=_lora_targets(base))
    )
    user_plm = PPlugLM(LoadedLLM(plm.name, model, plm.tokenizer), plm.use_chat, plm.max_input_tokens, plm.soft_position)
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)  # PPlugLM froze everything; the adapter is what this baseline trains
    opt = torch.optim.AdamW(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=g).tolist()
        for i in range(0, len(order), batch_size):
            chunk = [pairs[j] for j in order[i : i + batch_size]]
            loss = user_plm.loss([x for x, _ in chunk], [y for _, y in chunk])
            loss.backward()
            opt.step()
            opt.zero_grad()
    return user_plm


def lora_per_user_row(
    plm: PPlugLM,
    examples: list[Example],
    task: TaskSpec,
    *,
    n_users: int = 4,
    decoding: str = "generate",
    **train_kwargs,
) -> dict:
    """Train one LoRA for each of the first n_users users and score it on their questions; returns a results row."""
    by_user: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        by_user[e.user or e.id].append(e)
    users = list(by_user)[:n_users]
    answers, golds, train_s, infer_s, tokens = {}, {}, [], 0.0, 0.0
    for user in users:
        exs = by_user[user]
        t0 = time.perf_counter()
        user_plm = train_user_lora(plm, history_pairs(exs[0], task), **train_kwargs)
        train_s.append(time.perf_counter() - t0)
        # No plug: the adapter personalizes. Answers in fp32: the adapter's merged weights differ per user, so no
        # bf16 copy is kept, and seconds_per_example are fp32's where the PPlug rows beside it answer in bf16.
        pred = predict(exs, task, user_plm, decoding=decoding, progress=False)
        answers.update(pred.answers)
        golds.update({e.id: e.target for e in exs})
        infer_s += pred.seconds_per_example * len(exs)
        tokens += pred.prompt_tokens_mean * len(exs)
    metrics = score(task, answers, golds)
    row = {
        "method": f"lora-per-user ({len(users)} users)",
        "task": task.name,
        "split": "dev",
        "decoding": decoding,
    }
    row.update({k: round(metrics[k], 4) for k in metric_keys(task)})
    row.update(
        {
            "prompt_tokens_mean": round(tokens / len(golds), 1),
            "seconds_per_example": round(infer_s / len(golds), 4),
            "examples": len(golds),
            "train_seconds": round(sum(train_s), 3),
            "train_seconds_per_user": round(sum(train_s) / len(users), 3),
            "_answers": answers,
        }
    )
    return row

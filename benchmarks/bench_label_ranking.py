"""Label ranking as it was (one question at a time, its labels sharing the prompt's KV cache) against packed labels
in batches, in one run, on the bundled LaMP_2-style sample.

`--decoding rank` scores every label after the prompt. Before, each question ran alone: one forward pass of its
prompt, then its L labels as L right-padded rows over L copies of the prompt's KV cache. Now a batch of prompts
runs in one forward pass, each prompt followed by all its labels packed one after the other, with a mask that
lets each label see the prompt and its own earlier tokens only (`PPlugLM.batch_label_scores`). This prints the
seconds per question of both, for the frozen LLM alone and with a (seeded, untrained) plug's soft tokens, and
whether the answers and the scores agree.

    python benchmarks/bench_label_ranking.py [--questions 16] [--batch-size 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform

import torch
import torch.nn.functional as F
from bench_batched_generation import stack_dev_and_plug
from bench_pplug import median_time

from minipplug.model.plug import soft_tokens


@torch.no_grad()
def cached_label_scores(plm, prompt: str, lab_ids: list[list[int]], soft: torch.Tensor | None) -> torch.Tensor:
    """(L,): the previous implementation, for one prompt: its KV cache repeated for L right-padded label rows."""
    L, M, dev = len(lab_ids), max(map(len, lab_ids)), plm.device
    cont = torch.full((L, M), plm.pad_id, dtype=torch.long, device=dev)  # (L, M)
    valid = torch.zeros(L, M, dtype=torch.bool, device=dev)
    for i, ids in enumerate(lab_ids):
        cont[i, : len(ids)], valid[i, : len(ids)] = torch.tensor(ids), True
    batch = plm.build([prompt], soft)  # (1, T)
    out = plm.model(**batch, use_cache=True)
    T = batch["inputs_embeds"].shape[1]
    out.cache.batch_repeat_interleave(L)
    mask = torch.cat([torch.ones(L, T, dtype=torch.long, device=dev), valid.long()], dim=1)
    pos = (T + torch.arange(M, device=dev)).expand(L, M)
    nxt = plm.model(input_ids=cont, attention_mask=mask, position_ids=pos, cache=out.cache).logits  # (L, M, V)
    logits = torch.cat([out.logits[:, -1:].expand(L, 1, -1), nxt[:, :-1]], dim=1)
    logp = F.log_softmax(logits.float(), dim=-1).gather(-1, cont.unsqueeze(-1)).squeeze(-1)  # (L, M)
    return (logp * valid).sum(-1) / valid.sum(-1)


@torch.no_grad()
def packed_label_scores(plm, prompts: list[str], lab_ids: list[list[int]], soft, batch_size: int) -> torch.Tensor:
    """(Q, L): today's path, batch_size prompts per forward pass."""
    parts = []
    for i in range(0, len(prompts), batch_size):
        s = None if soft is None else soft[i : i + batch_size]
        parts.append(plm.batch_label_scores(prompts[i : i + batch_size], lab_ids, s))
    return torch.cat(parts)


def compare(plm, prompts, lab_ids, soft, batch_size: int, repeats: int) -> dict:
    """Seconds per question of both paths (medians), and how far apart their scores and answers are."""

    def old():
        return torch.stack(
            [
                cached_label_scores(plm, p, lab_ids, None if soft is None else soft[b : b + 1])
                for b, p in enumerate(prompts)
            ]
        )

    def new():
        return packed_label_scores(plm, prompts, lab_ids, soft, batch_size)

    before, after = old(), new()  # warm-up, and the scores compared
    old_s = median_time(old, repeats) / len(prompts)
    new_s = median_time(new, repeats) / len(prompts)
    return {
        "one_at_a_time_s": round(old_s, 3),
        "batch_size": batch_size,
        "packed_s": round(new_s, 3),
        "speedup": round(old_s / new_s, 2),
        "same_answers": "yes" if torch.equal(before.argmax(-1), after.argmax(-1)) else "no",
        "max_score_difference": float(f"{(before - after).abs().max():.1e}"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=16, help="dev questions, spread over users")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions (the median is printed)")
    args = ap.parse_args()
    stack, dev, plug = stack_dev_and_plug(args.questions)
    lab_ids = [stack.plm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in stack.task.labels]
    with torch.no_grad():
        soft, _ = soft_tokens(plug, stack.hist, dev)  # (Q, S, D)
    prompts = [e.input for e in dev]
    report = {"questions": len(dev), "threads": torch.get_num_threads(), "cpu": platform.processor() or "?"}
    for name, s in (("frozen LLM", None), ("with a plug", soft)):
        report[name] = compare(stack.plm, prompts, lab_ids, s, args.batch_size, args.repeats)
        print(json.dumps({name: report[name]}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

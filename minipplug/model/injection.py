"""Injection: the frozen LLM reads [I ; P_u ; Emb(x)] as input embeddings (paper, Fig. 2).

Decoder-only LLMs get the soft tokens before the prompt (left padding, so a batch can generate together);
encoder-decoder LLMs get them at the start of the encoder input. The LLM's weights never change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LoadedLLM:
    """A frozen LLM with its tokenizer; ``name`` is what the user asked for."""

    name: str
    model: nn.Module
    tokenizer: object

    @property
    def is_encoder_decoder(self) -> bool:
        return bool(getattr(self.model.config, "is_encoder_decoder", False))


def embedding_scale(model: nn.Module) -> float:
    """Median L2 norm of the LLM's input token embeddings.

    The paper multiplies its soft tokens by an unexplained constant (about 540). A plausible reading is
    that it brings them to the magnitude of FlanT5-XXL's own token embeddings; deriving the number from
    the embedding matrix does that for any LLM instead of hard-coding one model's value.
    """
    weight = model.get_input_embeddings().weight.detach().float()  # (V, D)
    return float(weight.norm(dim=-1).median())


class PPlugLM(nn.Module):
    """A frozen LLM that accepts soft tokens in front of its prompt, for training, generation and ranking."""

    def __init__(
        self, llm: LoadedLLM, chat_template: bool = True, max_input_tokens: int = 256, soft_position: str = "input"
    ):
        super().__init__()
        self.model, self.tokenizer, self.name = llm.model, llm.tokenizer, llm.name
        self.model.requires_grad_(False)
        self.model.eval()
        self.is_encoder_decoder = llm.is_encoder_decoder
        self.use_chat = (
            chat_template and not self.is_encoder_decoder and bool(getattr(self.tokenizer, "chat_template", None))
        )
        self.max_input_tokens = max_input_tokens
        if soft_position not in {"start", "input"}:
            raise ValueError(f"soft_position must be 'start' or 'input', got '{soft_position}'")
        self.soft_position = soft_position
        self.eos_id = self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_id

    @property
    def dim(self) -> int:
        return self.model.get_input_embeddings().weight.shape[1]

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    def train(self, mode: bool = True) -> "PPlugLM":
        return super().train(False)  # the LLM stays in eval mode (no dropout), always

    # ---- text -> token ids ------------------------------------------------------------------------
    def prompt_parts(self, text: str) -> tuple[list[int], list[int]]:
        """Token ids of one prompt split where the soft tokens go: (before, after).

        The input is cut to max_input_tokens and wrapped in the chat template if the LLM has one.
        soft_position "start" puts the soft tokens before everything (the paper's literal layout);
        "input" puts them right before the task input, after the template's header. In a decoder-only
        LLM the very first position is an attention sink (it draws most attention and its content is
        largely ignored), so "input" is the default for decoder-only LLMs; for encoder-decoder LLMs
        both layouts are the same.
        """
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > self.max_input_tokens:
            text = self.tokenizer.decode(ids[: self.max_input_tokens])
        if self.use_chat:
            marker = "\u2063"  # an invisible character that never occurs in LaMP inputs
            templ = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": marker}], tokenize=False, add_generation_prompt=True
            )
            head, tail = templ.split(marker)
            before = self.tokenizer(head, add_special_tokens=False)["input_ids"]
            after = self.tokenizer(text + tail, add_special_tokens=False)["input_ids"]
        else:
            full = self.tokenizer(text, add_special_tokens=True)["input_ids"]
            n_special = len(full) - len(ids) if len(full) > len(ids) else 0
            lead = (
                1 if n_special and full[0] != (ids[0] if ids else None) else 0
            )  # a BOS token, if the tokenizer adds one
            before, after = full[:lead], full[lead:]
        if self.soft_position == "start" or self.is_encoder_decoder:
            return [], before + after
        return before, after

    def prompt_ids(self, text: str) -> list[int]:
        """All token ids of one prompt (without soft tokens)."""
        before, after = self.prompt_parts(text)
        return before + after

    def target_ids(self, text: str) -> list[int]:
        """Token ids of a target, ending with EOS so the model learns where the answer stops."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.eos_id]

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids.to(self.device))  # (B, T, D)

    # ---- batches ----------------------------------------------------------------------------------
    def build(self, prompts: list[str], soft: torch.Tensor | None = None, targets: list[str] | None = None) -> dict:
        """Model inputs for a batch: inputs_embeds, attention_mask, labels (if targets), position_ids (decoder-only)."""
        B = len(prompts)
        S = 0 if soft is None else soft.shape[1]
        pad_vec = self.embed(torch.tensor([self.pad_id]))[0]  # (D,)
        if self.is_encoder_decoder:
            # Encoder input [soft ; prompt], right padded; the decoder learns the target.
            p_ids = [self.prompt_ids(p) for p in prompts]
            T = S + max(len(p) for p in p_ids)
            embeds = pad_vec.expand(B, T, -1).clone()  # (B, T, D)
            mask = torch.zeros(B, T, dtype=torch.long, device=self.device)
            for b, ids in enumerate(p_ids):
                if S:
                    embeds[b, :S] = soft[b].to(embeds.dtype)
                embeds[b, S : S + len(ids)] = self.embed(torch.tensor(ids))
                mask[b, : S + len(ids)] = 1
            out = {"inputs_embeds": embeds, "attention_mask": mask}
            if targets is not None:
                t_ids = [self.target_ids(t) for t in targets]
                labels = torch.full((B, max(map(len, t_ids))), -100, dtype=torch.long, device=self.device)
                for b, ids in enumerate(t_ids):
                    labels[b, : len(ids)] = torch.tensor(ids)
                out["labels"] = labels
            return out
        # Decoder-only: [pad ; soft ; prompt ; target], left padded; loss only on the target tokens.
        parts = [self.prompt_parts(p) for p in prompts]
        t_ids = [self.target_ids(t) for t in targets] if targets is not None else [[] for _ in prompts]
        lengths = [S + len(a) + len(b) + len(t) for (a, b), t in zip(parts, t_ids)]
        T = max(lengths)
        embeds = pad_vec.expand(B, T, -1).clone()  # (B, T, D)
        mask = torch.zeros(B, T, dtype=torch.long, device=self.device)
        labels = torch.full((B, T), -100, dtype=torch.long, device=self.device)
        for b, ((head, p), t) in enumerate(zip(parts, t_ids)):
            start = T - lengths[b]
            if head:
                embeds[b, start : start + len(head)] = self.embed(torch.tensor(head))
            if S:
                embeds[b, start + len(head) : start + len(head) + S] = soft[b].to(embeds.dtype)
            embeds[b, start + len(head) + S :] = self.embed(torch.tensor(p + t))
            mask[b, start:] = 1
            if t:
                labels[b, T - len(t) :] = torch.tensor(t)
        # Positions count real tokens only, so left padding does not shift them.
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, T)
        out = {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": position_ids}
        if targets is not None:
            out["labels"] = labels
        return out

    def forward(self, prompts: list[str], soft: torch.Tensor | None = None, targets: list[str] | None = None):
        """The LLM's output (logits, and loss = mean token NLL of the targets when given)."""
        return self.model(**self.build(prompts, soft, targets))

    def loss(self, prompts: list[str], targets: list[str], soft: torch.Tensor | None = None) -> torch.Tensor:
        """Token-level negative log-likelihood of the targets (paper, Eq. 5), mean over target tokens."""
        return self.batch_loss(self.build(prompts, soft, targets))

    def batch_loss(self, batch: dict) -> torch.Tensor:
        """The mean target-token NLL of a batch made by build(..., targets)."""
        if self.is_encoder_decoder:
            return self.model(**batch).loss
        batch = dict(batch)
        labels = batch.pop("labels")  # (B, T); targets are right-aligned (left padding)
        # Only the last K positions predict target tokens: skip the LM head (a fifth of the FLOPs) elsewhere.
        K = int((labels != -100).sum(-1).max()) + 1
        logits = self.model(**batch, logits_to_keep=K, use_cache=False).logits  # (B, K, V); no KV cache to fill
        return F.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, -K + 1 :].reshape(-1), ignore_index=-100
        )

    @torch.no_grad()
    def generate(
        self, prompts: list[str], soft: torch.Tensor | None = None, max_new_tokens: int = 16, num_beams: int = 1
    ) -> list[str]:
        """Decoded answers (greedy or beam), only stripped, as the LaMP scorer does."""
        batch = self.build(prompts, soft)
        batch.pop("position_ids", None)  # generate derives positions from the attention mask
        out = self.model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_id,
        )
        return [s.strip() for s in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    @torch.no_grad()
    def rank(self, prompts: list[str], labels: list[str], soft: torch.Tensor | None = None) -> list[str]:
        """Constrained decoding: the label with the highest mean token log-likelihood, for each prompt."""
        if not prompts:
            return []
        lab_ids = [self.tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
        best = self.batch_label_scores(prompts, lab_ids, soft).argmax(-1)  # (B,)
        return [labels[int(i)] for i in best]

    def label_scores(self, prompt: str, lab_ids: list[list[int]], soft: torch.Tensor | None) -> torch.Tensor:
        """Mean log-probability (L,) of each label's tokens after one prompt (soft: (1, S, D) or None)."""
        return self.batch_label_scores([prompt], lab_ids, soft)[0]

    def batch_label_scores(
        self, prompts: list[str], lab_ids: list[list[int]], soft: torch.Tensor | None
    ) -> torch.Tensor:
        """Mean log-probability (B, L) of each label's tokens after each prompt (soft: (B, S, D) or None)."""
        if self.is_encoder_decoder:
            return torch.stack(
                [
                    self._seq2seq_label_scores(p, lab_ids, None if soft is None else soft[b : b + 1])
                    for b, p in enumerate(prompts)
                ]
            )
        return self._decoder_label_scores(prompts, lab_ids, soft)

    def _seq2seq_label_scores(self, prompt: str, lab_ids: list[list[int]], soft: torch.Tensor | None) -> torch.Tensor:
        """(L,): the decoder reads each label after one encoded prompt (L rows, right padded)."""
        L, M = len(lab_ids), max(map(len, lab_ids))
        cont = torch.full((L, M), -100, dtype=torch.long, device=self.device)  # (L, M) right padded
        for i, ids in enumerate(lab_ids):
            cont[i, : len(ids)] = torch.tensor(ids)
        batch = self.build([prompt], soft)
        enc = {k: v.expand(L, *v.shape[1:]) for k, v in batch.items()}
        logits = self.model(**enc, labels=cont).logits  # (L, M, V): position j predicts label token j
        valid = cont != -100
        logp = F.log_softmax(logits.float(), dim=-1).gather(-1, cont.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (logp * valid).sum(-1) / valid.sum(-1)

    def _decoder_label_scores(
        self, prompts: list[str], lab_ids: list[list[int]], soft: torch.Tensor | None
    ) -> torch.Tensor:
        """(B, L), in one forward pass: each prompt is followed by all L labels, packed one after the other.

        A mask lets each label token see the prompt and the earlier tokens of its own label only, and each label
        starts at the position after the prompt, so every label is scored as if it alone followed the prompt,
        while the prompt is read once and no label is padded.
        """
        batch = self.build(prompts, soft)  # (B, T), left padded
        B, T = batch["attention_mask"].shape
        tokens = torch.tensor([t for ids in lab_ids for t in ids], device=self.device)  # (N,) every label's tokens
        label_of = torch.tensor([i for i, ids in enumerate(lab_ids) for _ in ids], device=self.device)  # (N,)
        offset = torch.tensor([j for ids in lab_ids for j in range(len(ids))], device=self.device)  # (N,)
        N = len(tokens)
        embeds = torch.cat([batch["inputs_embeds"], self.embed(tokens).expand(B, N, -1)], dim=1)  # (B, T + N, D)
        pos = torch.cat([batch["position_ids"], batch["position_ids"][:, -1:] + 1 + offset], dim=1)  # (B, T + N)
        real = torch.cat([batch["attention_mask"].bool(), torch.ones(B, N, dtype=torch.bool, device=self.device)], 1)
        mask = self._packed_mask(real, torch.cat([torch.full((T,), -1, device=self.device), label_of]))
        out = self.model(
            inputs_embeds=embeds, attention_mask=mask, position_ids=pos, logits_to_keep=N + 1, use_cache=False
        )
        logits = out.logits  # (B, N + 1, V); no KV cache: nothing reads it
        logp = F.log_softmax(logits.float(), dim=-1)  # (B, N + 1, V): position 0 is the prompt's last token
        # Token j of a label is predicted by the prompt's last position (j = 0) or by the label's token j - 1.
        before = torch.where(offset == 0, 0, torch.arange(N, device=self.device))  # (N,) index into logp
        token_logp = logp[:, before, tokens]  # (B, N)
        sums = torch.zeros(B, len(lab_ids), device=self.device).index_add_(1, label_of, token_logp)  # (B, L)
        return sums / torch.tensor([len(ids) for ids in lab_ids], device=self.device)

    def _packed_mask(self, real: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
        """The (B, 1, T, T) attention mask of packed labels: segment is -1 on the prompt, the label's index after.

        A query sees earlier real tokens of the prompt and earlier tokens of its own label; padding sees itself
        (a row with nothing to see would make the softmax NaN). Boolean for SDPA, additive for eager attention.
        """
        idx = torch.arange(len(segment), device=self.device)
        causal = idx[None, :] <= idx[:, None]  # (T, T)
        own_label = (segment[:, None] == segment[None, :]) & (segment[None, :] >= 0)
        allowed = (causal & ((segment[None, :] < 0) | own_label))[None] & real[:, None, :]  # (B, T, T)
        allowed = allowed | torch.eye(len(segment), dtype=torch.bool, device=self.device)
        attention = self.model.config._attn_implementation
        if attention == "sdpa":
            return allowed[:, None]
        if attention == "eager":
            return torch.zeros(allowed.shape, device=self.device).masked_fill(~allowed, torch.finfo().min)[:, None]
        raise ValueError(f"label ranking packs labels with a custom mask: sdpa or eager attention, not {attention}")

"""Enc_his and Enc_input: a sentence encoder, and a frozen history encoder that encodes each item once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..atomic import atomic_path


class SentenceEncoder(nn.Module):
    """Texts -> L2-normalised sentence vectors (N, D), with the encoder's own pooling (CLS or mean)."""

    def __init__(self, tokenizer, model: nn.Module, pooling: str = "mean", max_length: int = 512):
        super().__init__()
        if pooling not in {"mean", "cls"}:
            raise ValueError(f"pooling must be 'mean' or 'cls', got '{pooling}'")
        self.tokenizer, self.model, self.pooling, self.max_length = tokenizer, model, pooling, max_length
        self.texts_encoded = 0  # counts texts that went through the network (tests and benchmarks read it)

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def forward(self, texts: list[str], pad_to: int | None = None) -> torch.Tensor:
        device = next(self.model.parameters()).device
        padding = "max_length" if pad_to else True
        batch = self.tokenizer(
            texts, padding=padding, truncation=True, max_length=pad_to or self.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.model(**batch).last_hidden_state  # (N, T, D)
        if self.pooling == "cls":
            pooled = hidden[:, 0]  # (N, D)
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (N, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (N, D)
        self.texts_encoded += len(texts)
        return F.normalize(pooled.float(), dim=-1)  # (N, D), unit length


class HistoryEncoder:
    """Frozen Enc_his with a cache: each distinct history text is encoded once per run (or once ever, on disk).

    The paper precomputes these vectors; here the cache fills lazily, in batches, and a second epoch
    finds every item already there. With ``disk_dir`` the vectors persist, keyed by encoder name and text.
    """

    FORMAT = "pad32-v1"  # part of the disk cache's name: vectors made another way are never mixed in

    def __init__(
        self, encoder: SentenceEncoder, name: str, batch_size: int = 64, disk_dir: str | os.PathLike | None = None
    ):
        self.encoder, self.name, self.batch_size = encoder, name, batch_size
        encoder.requires_grad_(False)
        encoder.eval()
        self.cache: dict[str, torch.Tensor] = {}
        tag = hashlib.sha1(f"{name}|{self.FORMAT}".encode()).hexdigest()[:16]
        self.disk_file = Path(disk_dir) / f"{tag}.safetensors" if disk_dir else None
        if self.disk_file is not None and self.disk_file.exists():
            from safetensors.torch import load_file

            self.cache.update(load_file(self.disk_file))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @torch.no_grad()
    def encode(self, texts: list[str], progress: bool = False) -> torch.Tensor:
        """Vectors (N, D) for texts, encoding only those not cached yet."""
        keys = [self.key(t) for t in texts]
        todo = list(dict.fromkeys(k_t for k_t in zip(keys, texts) if k_t[0] not in self.cache))
        if todo:
            from tqdm.auto import tqdm

            # Each text is padded to a length that depends on the text alone (its length rounded up to a
            # multiple of 32), so a vector does not depend on the other texts' lengths. On some CPU kernels
            # the number of rows in a batch still moves a vector at the 1e-7 level: the disk cache keeps the
            # first value computed, which is what makes a rerun repeat exactly.
            lengths = [
                len(ids)
                for ids in self.encoder.tokenizer(
                    [t for _, t in todo], truncation=True, max_length=self.encoder.max_length
                )["input_ids"]
            ]
            buckets: dict[int, list[tuple[str, str]]] = {}
            for kt, n in zip(todo, lengths):
                buckets.setdefault(min(-(-n // 32) * 32, self.encoder.max_length), []).append(kt)
            chunks = [
                (pad, items[i : i + self.batch_size])
                for pad, items in sorted(buckets.items())
                for i in range(0, len(items), self.batch_size)
            ]
            for pad, chunk in tqdm(
                chunks, desc="encoding history", disable=not progress or len(chunks) < 2, leave=False
            ):
                vecs = self.encoder([t for _, t in chunk], pad_to=pad).cpu()
                for (k, _), v in zip(chunk, vecs):
                    self.cache[k] = v.clone()
            self.save()
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self.cache[k] for k in keys])  # (N, D)

    def save(self) -> None:
        """Write the disk cache (atomically) when one is configured."""
        if self.disk_file is None:
            return
        from safetensors.torch import save_file

        with atomic_path(self.disk_file) as tmp:
            save_file({k: v.contiguous() for k, v in self.cache.items()}, str(tmp))

    def batch(self, histories: list[list[str]], max_items: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded history vectors (B, N, D) and mask (B, N) for a batch of users; keeps the last max_items."""
        histories = [h[-max_items:] if max_items else h for h in histories]
        n = max((len(h) for h in histories), default=0)
        out = torch.zeros(len(histories), n, self.dim)  # (B, N, D)
        mask = torch.zeros(len(histories), n, dtype=torch.bool)  # (B, N)
        for b, h in enumerate(histories):
            if h:
                out[b, : len(h)] = self.encode(h)
                mask[b, : len(h)] = True
        return out, mask

"""Enc_his and Enc_input: a sentence encoder, and a frozen history encoder that encodes each item once."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import uuid
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
    finds every item already there. With ``disk_dir`` the vectors persist in a folder named by everything
    that changes a vector (see ``fingerprint``). The folder is append-only: each ``encode`` call that computes
    new vectors adds at most one shard file holding only those vectors (written to a temporary name, then
    renamed), so a long prediction never rewrites the vectors already on disk, and two processes filling the
    same folder at once keep each other's shards. Loading merges every shard; a shard that cannot be read (a
    truncated file, a foreign file) is reported once on stderr with its path, set aside and never trusted.
    When a folder holds more than ``COMPACT_AT`` shards, loading merges them into one (only the shards it read
    are removed, so a concurrent writer's new shard survives).
    """

    FORMAT = "pad32-v2"  # part of the fingerprint: vectors made another way are never mixed in
    COMPACT_AT = 64

    def __init__(
        self, encoder: SentenceEncoder, name: str, batch_size: int = 64, disk_dir: str | os.PathLike | None = None
    ):
        self.encoder, self.name, self.batch_size = encoder, name, batch_size
        encoder.requires_grad_(False)
        encoder.eval()
        self.cache: dict[str, torch.Tensor] = {}
        self.disk_dir = Path(disk_dir) / f"{name.replace('/', '--')}-{self.fingerprint()[:16]}" if disk_dir else None
        self.shards_written = 0  # shard files this object wrote (tests and benchmarks read it)
        if self.disk_dir is not None:
            self.load()

    def fingerprint(self) -> str:
        """A hash of everything that changes a vector: the weights' bytes, tokenizer, pooling, token limit, format."""
        h = hashlib.blake2b(digest_size=20)
        tok = self.encoder.tokenizer
        h.update(f"{self.FORMAT}|{self.encoder.pooling}|{self.encoder.max_length}|".encode())
        h.update(f"{type(tok).__name__}|{len(tok)}|{type(self.encoder.model).__name__}|".encode())
        for key, t in sorted(self.encoder.model.state_dict().items()):
            t = t.detach().cpu().contiguous()
            h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()

    _reported: set[str] = set()  # corrupt shards already reported by this process

    def load(self) -> int:
        """Merge every readable shard of the disk cache into memory; returns the number of shards read."""
        if self.disk_dir is None or not self.disk_dir.is_dir():
            return 0
        from safetensors.torch import load_file

        read = []
        for shard in sorted(self.disk_dir.glob("*.safetensors")):
            try:
                vectors = load_file(str(shard))
                if any(v.dim() != 1 or v.dtype != torch.float32 for v in vectors.values()):
                    raise ValueError("holds tensors that are not float32 vectors")
            except FileNotFoundError:
                continue  # compacted away by another process meanwhile: its vectors are in the merged shard
            except Exception as e:  # safetensors raises its own error type for a truncated or foreign file
                self._set_aside(shard, e)
                continue
            dims = {v.shape[0] for v in vectors.values()}
            if dims and dims != {self.dim}:
                self._set_aside(shard, ValueError(f"vectors of width {sorted(dims)}, expected {self.dim}"))
                continue
            for k, v in vectors.items():
                self.cache.setdefault(k, v)  # the first value computed wins (a rerun repeats exactly)
            read.append(shard)
        if len(read) > self.COMPACT_AT:
            self._write_shard(self.cache)
            for shard in read:
                with contextlib.suppress(OSError):
                    shard.unlink()
        return len(read)

    def _set_aside(self, shard: Path, error: Exception) -> None:
        if str(shard) not in HistoryEncoder._reported:
            HistoryEncoder._reported.add(str(shard))
            print(
                f"warning: {shard}: unreadable history-vector cache shard, ignored and recomputed ({error})",
                file=sys.stderr,
            )
        with contextlib.suppress(OSError):
            os.replace(shard, shard.with_suffix(".corrupt"))

    def _write_shard(self, vectors: dict[str, torch.Tensor]) -> None:
        from safetensors.torch import save_file

        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.safetensors"
        with atomic_path(self.disk_dir / name) as tmp:
            save_file({k: v.contiguous() for k, v in vectors.items()}, str(tmp))
        self.shards_written += 1

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
            # Token counts in slices: tokenizing every text at once held all their ids in memory together.
            lengths = [
                len(ids)
                for i in range(0, len(todo), 4096)
                for ids in self.encoder.tokenizer(
                    [t for _, t in todo[i : i + 4096]], truncation=True, max_length=self.encoder.max_length
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
            if self.disk_dir is not None:  # one new shard with the new vectors only: nothing is rewritten
                self._write_shard({k: self.cache[k] for k, _ in todo})
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self.cache[k] for k in keys])  # (N, D)

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

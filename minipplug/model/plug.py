"""The persona plug: input encoder + aggregation + projector + instruction embedding -> soft tokens.

Paper, Eq. 2-4:  P_u = sum_i w_i Proj(Enc_his(h_i)),  w = softmax(Enc_input(x_u) . Enc_his(h_i)),
and the LLM reads [I ; P_u ; Emb(x_u)]. Only this module is trained; a checkpoint holds only it.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Protocol, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..atomic import atomic_dir
from ..config import PPlugConfig
from ..errors import InputError
from .aggregation import aggregation_weights
from .encoder import HistoryEncoder, SentenceEncoder
from .projector import InstructionEmbedding, Projector


class UserQuery(Protocol):
    """What the plug reads of one question: its query text and the user's history items (e.g. a LaMP Example)."""

    query: str
    history: list[str]


class PersonaPlug(nn.Module):
    """Maps (query texts, history vectors) to soft tokens (B, S, D_llm) in the LLM's embedding space."""

    def __init__(self, cfg: PPlugConfig, input_encoder: SentenceEncoder, llm_dim: int, scale: float):
        super().__init__()
        self.cfg, self.llm_dim = cfg, llm_dim
        enc_dim = input_encoder.dim
        self.input_encoder = input_encoder
        self.input_encoder.requires_grad_(cfg.train_input_encoder)
        self.projector = Projector(enc_dim, llm_dim, cfg.projector_hidden, cfg.n_user_tokens)
        self.instruction = (
            InstructionEmbedding(enc_dim, llm_dim, cfg.projector_hidden, cfg.n_instruction_tokens)
            if cfg.use_instruction
            else None
        )
        # The typical norm of the LLM's own token embeddings (see injection.embedding_scale): soft tokens are
        # brought to that length so that the frozen LLM reads them at the magnitude it was trained on.
        self.register_buffer("scale", torch.tensor(float(scale)))

    @property
    def n_soft_tokens(self) -> int:
        return self.cfg.n_user_tokens + (self.cfg.n_instruction_tokens if self.instruction is not None else 0)

    def _to_scale(self, x: torch.Tensor) -> torch.Tensor:
        # A zero vector (empty history) stays zero instead of becoming NaN.
        return F.normalize(x, dim=-1, eps=1e-6) * self.scale  # (..., D_llm)

    def forward(
        self, queries: list[str], history: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft tokens (B, S, D_llm) and the aggregation weights (B, N)."""
        self.input_encoder.eval()  # no dropout: small data, and an interrupted run resumes exactly
        # BGE reads a query after its instruction; history items (passages) never get it.
        q = self.input_encoder([self.cfg.query_instruction + t for t in queries])  # (B, D_enc)
        history = history.to(q.device)
        w = aggregation_weights(
            q, history, mask.to(q.device), self.cfg.aggregation, self.cfg.temperature, self.cfg.top_k
        )  # (B, N)
        projected = self.projector(history)  # (B, N, n_user, D_llm)
        user = torch.einsum("bn,bnkd->bkd", w.to(projected.dtype), projected)  # (B, n_user, D_llm)  Eq. 4
        parts = [self._to_scale(user)]
        if self.instruction is not None:
            parts.insert(0, self._to_scale(self.instruction(len(queries))))  # (B, n_instr, D_llm)
        return torch.cat(parts, dim=1), w  # (B, S, D_llm), (B, N)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights a checkpoint holds: everything except a frozen input encoder."""
        return {
            k: v.detach().cpu().contiguous()
            for k, v in self.state_dict().items()
            if self.cfg.train_input_encoder or not k.startswith("input_encoder.")
        }

    def save(self, out_dir: str | os.PathLike, meta: dict | None = None) -> Path:
        """Write plug.safetensors + plug_config.json as a new folder that replaces out_dir as a whole."""
        with atomic_dir(out_dir) as tmp:
            self.write(tmp, meta)
        return Path(out_dir)

    def write(self, folder: Path, meta: dict | None = None) -> None:
        """The plug's two files into an existing (temporary) folder: weights and the JSON that describes them."""
        from safetensors.torch import save_file

        save_file(self.trainable_state_dict(), str(folder / "plug.safetensors"))
        info = {
            "config": self.cfg.to_dict(),
            "encoder_dim": self.input_encoder.dim,
            "llm_dim": self.llm_dim,
            "scale": float(self.scale),
            **(meta or {}),
        }
        (folder / "plug_config.json").write_text(json.dumps(info, indent=1) + "\n")


def soft_tokens(plug: PersonaPlug, hist: HistoryEncoder, batch: Sequence[UserQuery], hide_history: bool = False):
    """Soft tokens (B, S, D) and weights (B, N) for a batch; hide_history gives every user an empty history."""
    histories = [[] if hide_history else e.history for e in batch]
    cfg = getattr(plug, "module", plug).cfg  # plug may be wrapped for DDP
    H, mask = hist.batch(histories, cfg.max_history)  # (B, N, D_enc), (B, N)
    return plug([e.query for e in batch], H, mask)


class CheckpointError(InputError, FileNotFoundError):
    """A checkpoint folder that is missing, incomplete or corrupt; the message names the file."""


_INFO_KEYS = ("config", "encoder_dim", "llm_dim", "scale")


def read_plug_config(ckpt_dir: str | os.PathLike) -> dict:
    """The JSON beside a plug's weights, checked for the keys a plug needs."""
    path = Path(ckpt_dir) / "plug_config.json"
    if not path.is_file():
        raise CheckpointError(f"{ckpt_dir}: not a plug checkpoint (no plug_config.json)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable plug config ({e})") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{path}: a plug config must be a JSON object with a 'config' object")
    missing = [k for k in _INFO_KEYS if k not in info]
    if missing:
        raise CheckpointError(f"{path}: missing field(s) {', '.join(missing)}")
    return info


def check_plug_files(ckpt_dir: str | os.PathLike) -> dict:
    """read_plug_config, and the weights file's header checked (cheap: no tensor is read), before any model loads.

    A truncated or foreign plug.safetensors is a CheckpointError naming it, not a traceback after the models load.
    """
    from safetensors import safe_open

    info = read_plug_config(ckpt_dir)
    weights = Path(ckpt_dir) / "plug.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing (the plug's weights)")
    try:
        with safe_open(str(weights), "pt") as f:
            f.keys()
    except Exception as e:  # safetensors raises its own error type for a truncated or foreign file
        raise CheckpointError(f"{weights}: cannot read the plug weights ({e})") from None
    try:
        PPlugConfig.from_dict(info["config"])
    except (InputError, TypeError) as e:
        raise CheckpointError(f"{Path(ckpt_dir) / 'plug_config.json'}: {e}") from None
    return info


def trained_as(info: dict) -> str:
    """The method a checkpoint was trained as (older checkpoints name none: pplug, or its no-history control)."""
    return info.get("method") or ("pplug-no-history" if info.get("hide_history") else "pplug")


def build_plug(cfg: PPlugConfig, encoder: SentenceEncoder, llm_dim: int, scale: float) -> PersonaPlug:
    """A fresh plug whose input encoder starts as a copy of the (frozen) history encoder."""
    torch.manual_seed(cfg.seed)
    return PersonaPlug(cfg, copy.deepcopy(encoder), llm_dim, scale)


def load_plug(ckpt_dir: str | os.PathLike, encoder: SentenceEncoder, llm_dim: int) -> PersonaPlug:
    """Load a saved plug for an LLM of width llm_dim; a plug made for another width fails clearly."""
    from safetensors.torch import load_file

    info = read_plug_config(ckpt_dir)
    if info["llm_dim"] != llm_dim:
        raise InputError(
            f"{ckpt_dir}: this plug was trained for an LLM of embedding width {info['llm_dim']} "
            f"({info['config']['llm']}), but the LLM given has width {llm_dim}"
        )
    if info["encoder_dim"] != encoder.dim:
        raise InputError(f"{ckpt_dir}: this plug expects an encoder of width {info['encoder_dim']}, got {encoder.dim}")
    try:
        cfg = PPlugConfig.from_dict(info["config"])
    except (InputError, TypeError) as e:
        raise CheckpointError(f"{Path(ckpt_dir) / 'plug_config.json'}: {e}") from None
    plug = PersonaPlug(cfg, copy.deepcopy(encoder), llm_dim, info["scale"])
    weights = Path(ckpt_dir) / "plug.safetensors"
    try:
        state = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error type for a truncated or foreign file
        raise CheckpointError(f"{weights}: cannot read the plug weights ({e})") from None
    missing, unexpected = plug.load_state_dict(state, strict=False)
    missing = [k for k in missing if cfg.train_input_encoder or not k.startswith("input_encoder.")]
    if missing or unexpected:
        raise CheckpointError(
            f"{ckpt_dir}: plug weights do not match its config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return plug

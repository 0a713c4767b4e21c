"""The notebooks' common start: a profile read from the environment, seeds, a device print.

A profile is a named choice of sizes, models and data for the same code:
- ``fast`` (default): the CPU preset (``PPlugConfig()``) with small sizes and the bundled LaMP_2-style
  sample; every notebook runs in minutes on two CPU cores (CI, laptops).
- ``full``: the ``gpu-full`` preset (hub models, the paper's recipe) on real LaMP_2 data, for a GPU.

Select one with ``MINIPPLUG_PROFILE=fast|full``. ``MINIPPLUG_THREADS=N`` sets torch's CPU threads (the test
suite runs notebooks with one: on shared cores, spinning threads make every forward many times slower).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..config import PPlugConfig, cache_dir
from ..errors import InputError
from ..lamp.data import Example, load_examples

PROFILE_ENV = "MINIPPLUG_PROFILE"
THREADS_ENV = "MINIPPLUG_THREADS"

# Named overrides, as the config presets: sizes, models and data change; the notebooks' code does not.
FAST_METHODS = ("non-personalized", "bm25-k2", "recency-k2", "dense-k2", "pplug", "pplug-mean-pooling")
PROFILES: dict[str, dict] = {
    "fast": dict(
        preset="cpu-fast",
        data="sample",
        max_train_examples=64,
        max_dev_examples=10,
        overrides=dict(batch_size=4, epochs=1.0),
        compare_methods=FAST_METHODS,
    ),
    "full": dict(
        preset="gpu-full",
        data="lamp",
        max_train_examples=0,
        max_dev_examples=0,
        overrides=dict(),
        compare_methods=None,  # None: every method of minipplug.engine.methods.COMPARE_METHODS
    ),
}


@dataclass(frozen=True)
class Profile:
    """What a notebook runs: one PPlugConfig, the data it reads and how much of it."""

    name: str
    cfg: PPlugConfig  # the run's config (max_train_examples / max_dev_examples hold the limits)
    data: str  # "sample": the bundled LaMP-format sample; "lamp": real LaMP, downloaded (needs internet)
    sample: str = "lamp2_tags"  # the bundled sample read when data == "sample"
    compare_methods: tuple[str, ...] = FAST_METHODS

    @property
    def max_train_examples(self) -> int:
        return self.cfg.max_train_examples

    @property
    def max_dev_examples(self) -> int:
        return self.cfg.max_dev_examples

    @property
    def epochs(self) -> float:
        return self.cfg.epochs

    def paths(self) -> dict[str, Path]:
        """{train,dev}_{questions,outputs} paths of the profile's data (real LaMP is downloaded once)."""
        if self.data == "sample":
            from ..lamp.samples import sample_paths

            return sample_paths(self.sample)
        from ..lamp.download import download_lamp

        out = {}
        for split in ("train", "dev"):
            for kind, path in download_lamp(self.cfg.task, split).items():
                out[f"{split}_{kind}"] = path
        return out

    def examples(self, split: str) -> list[Example]:
        """The split's examples, cut to the profile's limit (spread over as many users as possible)."""
        if split not in ("train", "dev"):
            raise ValueError(f"split must be train or dev, got '{split}'")
        paths = self.paths()
        examples = load_examples(self.cfg.task, paths[f"{split}_questions"], paths[f"{split}_outputs"])
        return spread(examples, self.max_train_examples if split == "train" else self.max_dev_examples)

    def run_dir(self, name: str) -> Path:
        """Where the notebooks keep a run's outputs (a trained plug, a comparison): under the cache directory."""
        return cache_dir() / "notebook_runs" / self.name / name


def spread(examples: list[Example], n: int) -> list[Example]:
    """The first n examples taken round-robin over users (every user's first query, then second, ...); n=0: all."""
    if not n or n >= len(examples):
        return list(examples)
    by_user: dict[str, list[Example]] = {}
    for e in examples:
        by_user.setdefault(e.user if e.user is not None else e.id, []).append(e)
    out, depth = [], 0
    while len(out) < n:
        out += [q[depth] for q in by_user.values() if depth < len(q)][: n - len(out)]
        depth += 1
    return out


def get_profile(name: str | None = None, seed: int = 0) -> Profile:
    """The named profile (default: $MINIPPLUG_PROFILE, else "fast")."""
    name = (name or os.environ.get(PROFILE_ENV) or "fast").strip().lower()
    if name not in PROFILES:
        raise InputError(
            f"unknown notebook profile '{name}' (from ${PROFILE_ENV}); known: {', '.join(PROFILES)} "
            "(fast: CPU, bundled sample; full: GPU, hub models, real LaMP)"
        )
    p = PROFILES[name]
    cfg = PPlugConfig.preset(
        p["preset"],
        **p["overrides"],
        seed=seed,
        max_train_examples=p["max_train_examples"],
        max_dev_examples=p["max_dev_examples"],
    )
    if p["compare_methods"] is None:
        from ..engine.methods import COMPARE_METHODS

        methods = tuple(COMPARE_METHODS)
    else:
        methods = tuple(p["compare_methods"])
    return Profile(name=name, cfg=cfg, data=p["data"], compare_methods=methods)


def setup(seed: int = 0) -> Profile:
    """Read the profile from $MINIPPLUG_PROFILE, seed python/numpy/torch, print the device and profile in one line."""
    import torch

    from ..engine.pipeline import pick_device
    from ..engine.train import set_seed

    profile = get_profile(seed=seed)
    threads = os.environ.get(THREADS_ENV)
    if threads:
        try:
            torch.set_num_threads(int(threads))
        except ValueError:
            raise InputError(f"${THREADS_ENV} must be a whole number of threads, got '{threads}'") from None
    set_seed(seed)
    device = pick_device()
    n = torch.get_num_threads()
    where = f"{device.type} ({n} thread{'s' if n != 1 else ''})" if device.type == "cpu" else device.type
    data = profile.sample if profile.data == "sample" else f"real {profile.cfg.task}"
    print(
        f"device: {where} | profile: {profile.name} (LLM {profile.cfg.llm}, encoder {profile.cfg.encoder}, "
        f"data {data}) | seed {seed}"
    )
    return profile


def saved_plug_matches(ckpt: str | os.PathLike, cfg: PPlugConfig) -> bool:
    """Whether ckpt holds a PPlug (history shown) trained with exactly this config's training fields."""
    from ..engine.compare import reusable

    return reusable(Path(ckpt), cfg, "pplug")


def trained_plug(stack, profile: Profile, train_examples: list[Example], name: str = "pplug"):
    """(plug, checkpoint dir): the profile's PPlug, loaded when notebook 03 (or an earlier run) saved one with
    the same config, else trained now and saved there (expensive steps reuse a saved result)."""
    from ..engine.pipeline import open_plug, train

    ckpt = profile.run_dir(name)
    if saved_plug_matches(ckpt, stack.cfg):
        return open_plug(stack, ckpt), ckpt
    result = train(stack, train_examples, None, "pplug", out_dir=ckpt)
    return result.plug, ckpt

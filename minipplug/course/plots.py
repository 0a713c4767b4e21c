"""Plot helpers used by the CLI and the notebooks (every figure has a title, axis labels and a legend)."""

from __future__ import annotations

import os

from ..atomic import atomic_path
from ..engine.methods import get_method


def _finish(fig, path, show: bool):
    """Save the figure when a path is given; show it (notebooks) or close it (scripts)."""
    import matplotlib.pyplot as plt

    if path is not None:
        with atomic_path(path) as tmp:  # like every other file minipplug writes
            fig.savefig(tmp, dpi=120, format=os.path.splitext(path)[1][1:] or "png", bbox_inches="tight")
    if show:
        plt.show()
    else:
        plt.close(fig)
    return fig


def _shorten(text: str, n: int) -> str:
    """At most n characters, cut in the middle so that the end (a history item's "tag: ..." or score) stays."""
    if len(text) <= n:
        return text
    tail = min(20, n // 3)
    return text[: n - tail - 3] + " … " + text[-tail:]


def plot_losses(
    curves: dict[str, list[tuple[int, float]]],
    title: str = "PPlug training loss",
    path: str | os.PathLike | None = None,
    show: bool = False,
    ylabel: str = "token NLL (train batch)",
):
    """Loss against optimizer step, one line per run; saved to path when given."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, points in curves.items():
        if points:
            steps, losses = zip(*points)
            ax.plot(steps, losses, label=label, marker="o" if len(points) < 12 else None, markersize=3)
    better = "" if "better" in ylabel else " (lower is better)"
    ax.set(title=title, xlabel="optimizer step", ylabel=ylabel + better)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path, show)


COST_LABELS = {
    "prompt_tokens_mean": "mean prompt tokens the LLM reads",
    "seconds_per_example": "seconds per example",
    "peak_memory_mb": "peak memory (MB)",
    "train_seconds": "training time (s)",
}
LOWER_IS_BETTER = {"mae", "rmse"}


def _family_marker(method: str) -> str:
    """One marker shape per family of methods (the registry's), e.g. 'lora-per-user (4 users)' -> '*'."""
    return get_method(method.split(" (")[0]).marker


def plot_quality_cost(
    rows: list[dict],
    metric: str,
    cost_keys: tuple[str, ...] = ("prompt_tokens_mean", "seconds_per_example"),
    title: str = "quality against cost",
    path: str | os.PathLike | None = None,
    show: bool = False,
):
    """One panel per cost measure: each method's metric against that cost (hollow markers: label ranking)."""
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab20").colors
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, len(cost_keys), figsize=(5 * len(cost_keys), 4), squeeze=False)
    for ax, key in zip(axes[0], cost_keys):
        for r in rows:
            color = colors[methods.index(r["method"]) % len(colors)]
            rank = r["decoding"] == "rank"
            ax.scatter(
                r[key],
                r[metric],
                s=60,
                marker=_family_marker(r["method"]),
                label=f"{r['method']} ({r['decoding']})",
                facecolors="none" if rank else color,
                edgecolors=color,
                linewidths=1.5,
            )
        better = "lower is better" if metric.lower() in LOWER_IS_BETTER else "higher is better"
        ax.set(xlabel=COST_LABELS.get(key, key), ylabel=f"{metric} ({better})")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), title="method (decoding)")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_seed_summary(summary: dict, path: str | os.PathLike | None = None, show: bool = False):
    """Each row's mean over seeds and questions with its interval (a bar), one marker shape per family (hollow:
    label ranking); summary as engine.seeds.summarize makes it."""
    import matplotlib.pyplot as plt

    entries = summary["methods"]
    metric, level = summary["metric"], summary["interval"]["level"]
    methods = [get_method(e["method"].split(" (")[0]) for e in entries]  # 'lora-per-user (4 users)' -> its method
    families = list(dict.fromkeys(m.family for m in methods))  # one colour and one legend entry per family
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(entries) + 1.6))
    labelled: set[str] = set()
    for y, (e, method) in enumerate(zip(entries, methods)):
        ax.errorbar(
            e["mean"],
            y,
            xerr=[[max(e["mean"] - e["low"], 0.0)], [max(e["high"] - e["mean"], 0.0)]],
            fmt=method.marker,
            color=f"C{families.index(method.family)}",
            markerfacecolor="none" if e["decoding"] == "rank" else None,  # hollow: label ranking, as in quality-cost
            capsize=3,
            markersize=7,
            label=None if method.family in labelled else method.family,
        )
        labelled.add(method.family)
    ax.set_yticks(range(len(entries)), [f"{e['method']} ({e['decoding']})" for e in entries], fontsize=8)
    ax.invert_yaxis()
    better = "lower is better" if metric.lower() in LOWER_IS_BETTER else "higher is better"
    seeds = ", ".join(map(str, summary["seeds"]))
    name = f"{summary['sample']} ({summary['task']})" if "sample" in summary else summary["task"]  # recorded runs
    ax.set(
        title=f"{name}: {metric} over training seeds {seeds}, {level:.0%} bootstrap intervals",
        xlabel=f"{metric} ({better})",
        ylabel="method (decoding)",
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(title="family", fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_attention(
    weights,
    items: list[str],
    title: str = "attention over the history",
    path=None,
    show: bool = False,
    max_chars: int = 60,
):
    """Horizontal bars: the aggregation weight of each history item."""
    import matplotlib.pyplot as plt

    labels = [_shorten(t, max_chars) for t in items]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1.2))
    ax.barh(range(len(items)), [float(w) for w in weights], label="weight w_i")
    ax.set_yticks(range(len(items)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set(title=title, xlabel="aggregation weight w_i (the weights sum to 1)", ylabel="history item")
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_histograms(
    groups: dict[str, list[float]],
    title: str,
    xlabel: str,
    ylabel: str = "count",
    bins: int | list | None = None,
    path=None,
    show: bool = False,
):
    """Overlaid histograms, one per group (e.g. profile sizes of train and dev users)."""
    import matplotlib.pyplot as plt

    values = [v for vs in groups.values() for v in vs]
    if bins is None:
        lo, hi = (min(values), max(values)) if values else (0, 1)
        bins = list(range(int(lo), int(hi) + 2)) if float(hi) - float(lo) <= 40 else 20
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, vs in groups.items():
        ax.hist(vs, bins=bins, alpha=0.6, label=f"{label} (n={len(vs)})")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: it never hides a bar
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_counts(
    series: dict[str, dict[str, float]],
    title: str,
    xlabel: str = "count",
    ylabel: str = "label",
    path=None,
    show: bool = False,
):
    """Horizontal grouped bars: one bar per (label, series), e.g. how often each tag is the gold in train and dev."""
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(k for counts in series.values() for k in counts))
    height = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(6.5, 0.16 * len(labels) * max(len(series), 1) + 1.2))
    for j, (name, counts) in enumerate(series.items()):
        ax.barh(
            [i + j * height for i in range(len(labels))], [counts.get(k, 0) for k in labels], height=height, label=name
        )
    ax.set_yticks([i + height * (len(series) - 1) / 2 for i in range(len(labels))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: it never hides a bar
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_embedding_norms(
    token_norms,
    scale: float,
    soft_norms=None,
    raw_norms=None,
    title: str = "soft tokens are brought to the scale of real token embeddings",
    path=None,
    show: bool = False,
):
    """Histogram of the LLM's token-embedding norms and the derived scale (dashed); optionally the soft tokens'
    norms before scaling (raw_norms, the MLPs' outputs) and after it (soft_norms, on the scale line), as markers."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    norms = [float(n) for n in token_norms]
    counts, _, _ = ax.hist(
        norms, bins=60, alpha=0.6, color="tab:blue", label=f"token embeddings of the LLM ({len(norms)})"
    )
    ax.axvline(scale, color="black", linestyle="--", label=f"target scale = median token norm ({scale:.3f})")
    top = float(max(counts)) if len(counts) else 1.0
    # Markers above the histogram: the scaled ones sit exactly on the scale line, which a line would hide.
    for values, y, marker, color, name in [
        (raw_norms, 1.08, "v", "tab:orange", "soft tokens before scaling"),
        (soft_norms, 1.0, "o", "tab:red", "soft tokens after scaling"),
    ]:
        if values is not None:
            xs = [float(n) for n in values]
            ax.plot(
                xs, [y * top] * len(xs), marker, color=color, linestyle="none", alpha=0.7, label=f"{name} ({len(xs)})"
            )
    ax.set_ylim(0, top * 1.3)
    ax.set(title=title, xlabel="L2 norm of the embedding vector", ylabel="number of vocabulary tokens")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_embeddings_2d(
    points,
    labels: list[str],
    title: str,
    xlabel: str = "component 1",
    ylabel: str = "component 2",
    kinds: list[str] | None = None,
    path=None,
    show: bool = False,
):
    """2-D scatter coloured by label (e.g. each user's persona); kinds (e.g. train/dev) choose the marker."""
    import matplotlib.pyplot as plt

    names = sorted(set(labels))
    cmap = plt.get_cmap("tab20")
    markers = {k: m for k, m in zip(sorted(set(kinds or ["all"])), "o^sDv")}
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for c, name in enumerate(names):
        for kind, marker in markers.items():
            idx = [i for i, lab in enumerate(labels) if lab == name and (kinds is None or kinds[i] == kind)]
            if idx:
                ax.scatter(
                    [float(points[i][0]) for i in idx],
                    [float(points[i][1]) for i in idx],
                    color=cmap(c % 20),
                    marker=marker,
                    s=36,
                    edgecolors="none",
                    label=name if kind == next(iter(markers)) or kinds is None else None,
                )
    if kinds is not None:
        for kind, marker in markers.items():
            ax.scatter([], [], color="gray", marker=marker, label=f"[{kind}]")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_attention_heatmap(
    weights,
    queries: list[str],
    items: list[str],
    title: str = "attention of each query over the history",
    path=None,
    show: bool = False,
    max_chars: int = 70,
):
    """Heat map of aggregation weights (Q, N): a column per query (q0, q1, ..., named below), a row per history item."""
    import matplotlib.pyplot as plt

    w = [[float(row[n]) for row in weights] for n in range(len(items))]  # (N, Q): items down, queries across
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.3 * len(items) + 0.22 * len(queries)))
    im = ax.imshow(w, aspect="auto", cmap="viridis", vmin=0.0)
    ax.set_xticks(range(len(queries)), [f"q{i}" for i in range(len(queries))])
    ax.set_yticks(range(len(items)), [_shorten(t, max_chars) for t in items], fontsize=7)
    ax.set(title=title, xlabel="query", ylabel="history item")
    fig.colorbar(im, ax=ax, label="weight w_i")
    # The queries' key sits under the axes as text (a legend is for plotted series; the colour bar is this one's).
    key = "\n".join(f"q{i}: {_shorten(q, 110)}" for i, q in enumerate(queries))
    ax.annotate(
        key,
        xy=(0.5, 0.0),
        xycoords=ax.xaxis.label,
        xytext=(0, -4),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize=7,
    )
    fig.tight_layout()
    return _finish(fig, path, show)

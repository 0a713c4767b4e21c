"""Plot helpers used by the CLI and the notebooks (every figure has a title, axis labels and a legend)."""

from __future__ import annotations

import os


def _finish(fig, path, show: bool):
    """Save the figure when a path is given; show it (notebooks) or close it (scripts)."""
    import matplotlib.pyplot as plt

    if path is not None:
        fig.savefig(path, dpi=120)
    if show:
        plt.show()
    else:
        plt.close(fig)
    return fig


def plot_losses(curves: dict[str, list[tuple[int, float]]], title: str = "PPlug training loss", path: str | os.PathLike | None = None, show: bool = False):
    """Loss against optimizer step, one line per run; saved to path when given."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, points in curves.items():
        if points:
            steps, losses = zip(*points)
            ax.plot(steps, losses, label=label)
    ax.set(title=title, xlabel="optimizer step", ylabel="token NLL (train batch)")
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_quality_cost(rows: list[dict], metric: str, cost_keys: tuple[str, ...] = ("prompt_tokens_mean", "seconds_per_example"),
                      title: str = "quality against cost", path: str | os.PathLike | None = None, show: bool = False):
    """One panel per cost measure: each method's metric against that cost."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(cost_keys), figsize=(5.5 * len(cost_keys), 4), squeeze=False)
    for ax, key in zip(axes[0], cost_keys):
        for r in rows:
            label = f"{r['method']} ({r['decoding']})"
            ax.scatter(r[key], r[metric], label=label)
        ax.set(title=f"{metric} vs {key}", xlabel=key, ylabel=metric)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path, show)


def plot_attention(weights, items: list[str], title: str = "attention over the history", path=None, show: bool = False, max_chars: int = 60):
    """Horizontal bars: the aggregation weight of each history item."""
    import matplotlib.pyplot as plt

    labels = [t if len(t) <= max_chars else t[: max_chars - 1] + "…" for t in items]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1.2))
    ax.barh(range(len(items)), [float(w) for w in weights], label="weight w_i")
    ax.set_yticks(range(len(items)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set(title=title, xlabel="weight", ylabel="history item")
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path, show)

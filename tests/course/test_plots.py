"""The comparison plot: one legend entry per row, hollow markers for label ranking, atomic saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from minipplug.course import plots  # noqa: E402

ROWS = [
    {
        "method": "non-personalized",
        "decoding": "generate",
        "accuracy": 0.0,
        "prompt_tokens_mean": 121.0,
        "seconds_per_example": 0.17,
    },
    {
        "method": "bm25-k4",
        "decoding": "rank",
        "accuracy": 0.27,
        "prompt_tokens_mean": 262.0,
        "seconds_per_example": 0.6,
    },
    {
        "method": "pplug",
        "decoding": "generate",
        "accuracy": 0.49,
        "prompt_tokens_mean": 129.0,
        "seconds_per_example": 0.16,
    },
]


def test_quality_cost_plot_has_one_entry_per_row(tmp_path: Path) -> None:
    path = tmp_path / "q.png"
    fig = plots.plot_quality_cost(ROWS, "accuracy", path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob(".*tmp*"))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "non-personalized (generate)",
        "bm25-k4 (rank)",
        "pplug (generate)",
    ]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "mean prompt tokens the LLM reads" and ax.get_ylabel() == "accuracy (higher is better)"
    bm25 = ax.collections[1]
    assert bm25.get_facecolors().size == 0 or bm25.get_facecolors()[0][3] == 0  # hollow: label ranking
    assert (
        plots.plot_quality_cost([dict(r, mae=1.0) for r in ROWS], "mae").axes[0].get_ylabel() == "mae (lower is better)"
    )


def test_a_failed_save_leaves_the_old_figure_whole(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "q.png"
    path.write_bytes(b"old figure")
    import matplotlib.figure

    def broken(self, fname, **kw):
        Path(fname).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plots.plot_quality_cost(ROWS, "accuracy", path=path)
    assert path.read_bytes() == b"old figure" and [p.name for p in tmp_path.iterdir()] == ["q.png"]


SUMMARY = {  # as engine.seeds.summarize writes it (the fields the plot reads)
    "task": "LaMP_2",
    "metric": "accuracy",
    "seeds": [0, 1, 2],
    "interval": {"level": 0.95},
    "methods": [
        {"method": "rule-history-majority", "decoding": "none", "mean": 0.9, "low": 0.85, "high": 0.95},
        {"method": "bm25-k4", "decoding": "rank", "mean": 0.3, "low": 0.2, "high": 0.4},
        {"method": "pplug", "decoding": "generate", "mean": 0.5, "low": 0.4, "high": 0.55},
        {"method": "lora-per-user (4 users)", "decoding": "generate", "mean": 0.25, "low": 0.1, "high": 0.3},
    ],
}


def test_seed_summary_draws_each_interval_with_its_familys_marker() -> None:
    ax = plots.plot_seed_summary(SUMMARY).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["rule-history-majority (none)", "bm25-k4 (rank)"]
    lines = [c.lines[0] for c in ax.containers]  # each errorbar's marker line, in row order
    assert [ln.get_marker() for ln in lines] == ["P", "s", "o", "*"]  # rule, retrieval, pplug, fine-tuning
    assert lines[1].get_markerfacecolor() == "none" and lines[0].get_markerfacecolor() != "none"  # rank: hollow
    bars = [c.lines[2][0].get_segments()[0] for c in ax.containers]  # each row's interval, (low, y) -> (high, y)
    ends = [end for b in bars for end in (b[0][0], b[1][0])]
    assert ends == pytest.approx([end for e in SUMMARY["methods"] for end in (e["low"], e["high"])])
    assert _legend_texts(ax.get_legend()) == ["rule", "retrieval", "pplug", "fine-tuning"]
    assert ax.get_title().startswith("LaMP_2: ")


def test_seed_summary_of_a_recorded_run_names_its_sample() -> None:
    ax = plots.plot_seed_summary({**SUMMARY, "sample": "lamp2_kinds"}).axes[0]
    assert ax.get_title().startswith("lamp2_kinds (LaMP_2): ")


# ---------------------------------------------------------------- every figure reads at a glance

# One call per public plot_* function; test_every_plot_function_has_a_case fails when a new one has none.
CASES = {
    "plot_losses": lambda: plots.plot_losses({"pplug": [(1, 2.0), (2, 1.5)], "no history": [(1, 2.1), (2, 2.0)]}),
    "plot_quality_cost": lambda: plots.plot_quality_cost(ROWS, "accuracy"),
    "plot_seed_summary": lambda: plots.plot_seed_summary(SUMMARY),
    "plot_attention": lambda: plots.plot_attention([0.7, 0.2, 0.1], ["a tag: comedy", "b tag: action", "c"]),
    "plot_histograms": lambda: plots.plot_histograms(
        {"train": [3, 4, 4, 5], "dev": [2, 4]}, title="profile size per user", xlabel="history items", ylabel="users"
    ),
    "plot_counts": lambda: plots.plot_counts(
        {"train": {"comedy": 3, "action": 1}, "dev": {"comedy": 1}}, title="gold tags", xlabel="questions"
    ),
    "plot_embedding_norms": lambda: plots.plot_embedding_norms(
        [0.9, 1.0, 1.0, 1.1, 1.3], 1.0, soft_norms=[1.0, 1.0], raw_norms=[0.3, 0.5]
    ),
    "plot_embeddings_2d": lambda: plots.plot_embeddings_2d(
        [(0, 0), (1, 1), (2, 0), (1, 2)],
        ["comedy", "action", "comedy", "action"],
        title="users",
        kinds=["train", "train", "dev", "dev"],
    ),
    "plot_attention_heatmap": lambda: plots.plot_attention_heatmap(
        [[0.5, 0.5], [0.9, 0.1]], ["first query", "second query"], ["item a", "item b"]
    ),
}


def _plotting_functions() -> list[str]:
    import inspect

    return sorted(
        name
        for name, f in inspect.getmembers(plots, inspect.isfunction)
        if name.startswith("plot_") and f.__module__ == plots.__name__
    )


def _legend_texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def test_every_plot_function_has_a_case() -> None:
    assert _plotting_functions() == sorted(CASES)


@pytest.mark.parametrize("name", _plotting_functions())
def test_figure_has_title_axis_labels_and_a_matching_legend(name: str) -> None:
    """A title (axes or figure), both axis labels on every data panel, and legends whose entries are exactly the
    labels of the plotted series (a figure with two or more labelled series must have one)."""
    fig = CASES[name]()
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert panels, name
    titles = [ax.get_title() for ax in panels] + [fig._suptitle.get_text() if fig._suptitle else ""]
    assert any(t.strip() for t in titles), f"{name}: no title"
    for ax in panels:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), f"{name}: an axis label is empty"
        series = ax.get_legend_handles_labels()[1]  # labels of the plotted artists (not '_'-hidden ones)
        if ax.get_legend() is not None:
            assert _legend_texts(ax.get_legend()) == series, name
        for legend in fig.legends:  # a figure legend stands for every panel (each panel plots the same series)
            assert _legend_texts(legend) == series, name
        if len(series) >= 2:
            assert ax.get_legend() is not None or fig.legends, f"{name}: {len(series)} series and no legend"
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            assert ax.get_ylabel().strip() or ax.get_xlabel().strip(), f"{name}: the colour bar has no label"


def test_scores_say_which_way_is_better() -> None:
    assert plots.plot_losses({"a": [(1, 1.0)]}).axes[0].get_ylabel() == "token NLL (train batch) (lower is better)"
    assert plots.plot_losses({"a": [(1, 1.0)]}, ylabel="dev loss (lower is better)").axes[0].get_ylabel() == (
        "dev loss (lower is better)"
    )


def test_embedding_norms_show_raw_and_scaled_soft_tokens_and_the_scale() -> None:
    """Raw soft-token norms, scaled ones and the scale are each drawn where their values are."""
    fig = plots.plot_embedding_norms([0.9, 1.0, 1.1], 1.0, soft_norms=[1.0, 1.0], raw_norms=[0.3, 0.5])
    ax = fig.axes[0]
    lines = {line.get_label(): list(line.get_xdata()) for line in ax.get_lines()}
    assert lines["soft tokens before scaling (2)"] == [0.3, 0.5]
    assert lines["soft tokens after scaling (2)"] == [1.0, 1.0]
    assert lines["target scale = median token norm (1.000)"] == [1.0, 1.0]  # axvline: (x, x)
    assert lines["soft tokens before scaling (2)"][0] >= ax.get_xlim()[0]  # inside the view
    assert ax.get_lines()[0].get_linestyle() == "--"

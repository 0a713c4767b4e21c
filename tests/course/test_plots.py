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

"""Draw PPlug's architecture in the style of the paper's Figure 2 (arXiv 2409.11901) into docs/architecture.png.

python docs/make_architecture.py [--out docs/architecture.png]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minipplug.atomic import atomic_write_bytes  # noqa: E402

FROZEN, TRAINED, DATA, TOKEN = "#cfe0f3", "#fbd5a5", "#eeeeee", "#ffffff"


def box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str, color: str, size: int = 10) -> None:
    """A rounded box with centred text; (x, y) is its lower-left corner."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.15", fc=color, ec="#333333"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)


def arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], label: str = "") -> None:
    """An arrow with an optional label at its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, lw=1.3, color="#333333"))
    if label:
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.22)
        ax.text(*mid, label, ha="center", va="bottom", fontsize=9, style="italic")


def history_stack(ax: plt.Axes) -> None:
    """The user's history items h_1 ... h_n, the whole profile."""
    for i, label in enumerate(["$h_n$", "$\\cdots$", "$h_2$", "$h_1$"]):
        box(ax, 0.3 + 0.15 * i, 6.2 + 0.45 * i, 2.2, 0.4, label, DATA, 9)
    ax.text(1.55, 8.15, "user history (profile)", ha="center", fontsize=10, weight="bold")


def encoders(ax: plt.Axes) -> None:
    """Enc_his (frozen, cached) over the history; Enc_input over the task input gives the query."""
    history_stack(ax)
    box(ax, 3.4, 6.6, 3.0, 1.0, "History Encoder\n$Enc_{his}$ (frozen, cached)", FROZEN, 9)
    arrow(ax, (2.95, 7.1), (3.4, 7.1))
    box(ax, 0.3, 4.2, 2.5, 0.8, "task input $x_u$", DATA)
    box(ax, 3.4, 4.1, 3.0, 1.0, "Input Encoder\n$Enc_{input}$", TRAINED, 9)
    arrow(ax, (2.8, 4.6), (3.4, 4.6))


def plug(ax: plt.Axes) -> None:
    """Input-aware attention (Eq. 3) and the projector (Eq. 2, 4): the persona embedding P_u."""
    box(ax, 7.6, 4.6, 3.0, 2.5, "Input-aware\nattention\n$w_i = \\mathrm{softmax}_i(q \\cdot h_i / \\tau)$", FROZEN)
    ax.patches[-1].set_facecolor("#f4f4f4")
    arrow(ax, (6.4, 7.1), (7.6, 6.6), "vectors $h_i$")
    arrow(ax, (6.4, 4.6), (7.6, 5.1), "query $q$")
    box(ax, 11.4, 5.35, 2.6, 1.0, "Projector $Proj$\n(MLP)", TRAINED, 9)
    arrow(ax, (10.6, 5.85), (11.4, 5.85))
    ax.text(12.7, 6.6, "$P_u = \\sum_i w_i\\, Proj(h_i)$", ha="center", fontsize=10)
    box(ax, 5.9, 2.35, 2.7, 0.8, "instruction\nembedding (MLP)", TRAINED, 9)


def llm(ax: plt.Axes) -> None:
    """The frozen LLM reads [I ; P_u ; Emb(x_u)] and writes the personalized answer (Eq. 5)."""
    tokens = [("$I$", 9.6, TRAINED), ("$P_u$", 10.5, TRAINED)] + [("", 11.4 + 0.55 * i, TOKEN) for i in range(6)]
    for label, x, color in tokens:
        box(ax, x, 2.45, 0.75 if label else 0.45, 0.65, label, color)
    ax.text(12.9, 3.3, "$Emb(x_u)$", ha="center", fontsize=10)
    ax.text(14.8, 2.75, "$= [I\\,;\\,P_u\\,;\\,Emb(x_u)]$", va="center", fontsize=10)
    arrow(ax, (8.6, 2.75), (9.6, 2.75))
    ax.text(9.1, 2.3, "instruction\ntoken", ha="center", va="top", fontsize=8, style="italic")
    arrow(ax, (12.7, 5.35), (10.9, 3.15), "user soft token")
    arrow(ax, (1.55, 4.2), (12.9, 3.6))
    box(ax, 3.0, 0.3, 12.5, 1.4, "Frozen LLM (SmolLM2-135M-Instruct; the paper: FlanT5-XXL)", FROZEN, 11)
    arrow(ax, (12.0, 2.45), (12.0, 1.7))
    arrow(ax, (15.5, 1.0), (16.6, 1.0))
    ax.text(16.7, 1.0, "personalized\nanswer $r_u$", va="center", fontsize=10)


def draw() -> plt.Figure:
    """The whole figure, with a legend saying what is trained."""
    fig, ax = plt.subplots(figsize=(12, 6.2), dpi=110)
    ax.set_xlim(0, 18.3)
    ax.set_ylim(0, 8.6)
    ax.axis("off")
    encoders(ax)
    plug(ax)
    llm(ax)
    legend = [
        Patch(fc=TRAINED, ec="#333333", label="trained (the plug)"),
        Patch(fc=FROZEN, ec="#333333", label="frozen"),
    ]
    ax.legend(handles=legend, loc="lower left", bbox_to_anchor=(0.0, 0.22), frameon=False, fontsize=10)
    ax.set_title("PPlug: one plug embeds a user's whole history into soft tokens for a frozen LLM", fontsize=13)
    return fig


def main() -> None:
    """Command line: draw and save the figure atomically."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "architecture.png")
    fig = draw()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    atomic_write_bytes(parser.parse_args().out, buf.getvalue())


if __name__ == "__main__":
    main()

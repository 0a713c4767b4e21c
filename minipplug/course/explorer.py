"""Looking inside a plug: user embeddings, attention matrices, and an interactive explorer (notebook 05).

The explorer holds a Stack, a plug and examples grouped by user. ``select(user, query_index)`` returns
what one query shows: the user's history items, the plug's attention weights over them (PersonaPlug.forward's
second output), the answer with the plug, the answer without it (non-personalized) and the gold.
``widget()`` wraps that in ipywidgets (two Dropdowns and an Output); the logic stays here, testable without a browser.
"""

from __future__ import annotations

import html
from collections import Counter

import numpy as np
import torch

from ..lamp.data import Example
from ..lamp.tasks import TaskSpec
from ..model.plug import PersonaPlug, soft_tokens
from .plots import plot_attention


def persona(example: Example, task: TaskSpec) -> str:
    """A user's label for colouring: the majority tag/category/score of their profile (first seen wins a tie).

    On the LaMP_2-style sample this is the planted persona, the user's favourite tag.
    """
    field = task.persona_field
    values = [str(it[field]).strip() for it in example.profile if field in it] if field else []
    if not values:
        return example.user or "?"
    return Counter(values).most_common(1)[0][0]


def group_by_user(examples: list[Example]) -> dict[str, list[Example]]:
    """Examples grouped by user id, users and queries in file order (an example without user id is its own user)."""
    out: dict[str, list[Example]] = {}
    for e in examples:
        out.setdefault(e.user if e.user is not None else e.id, []).append(e)
    return out


def _history(plug: PersonaPlug, example: Example) -> list[str]:
    """The history items the plug reads (the last max_history)."""
    n = plug.cfg.max_history
    return example.history[-n:] if n else list(example.history)


@torch.no_grad()
def attention_matrix(plug: PersonaPlug, hist, examples: list[Example]) -> np.ndarray:
    """Weights (Q, N) of the plug over one user's history, one row per query (all examples share the history)."""
    if len({tuple(e.history) for e in examples}) > 1:
        raise ValueError("attention_matrix needs examples of one user (the same history in every example)")
    plug.eval()
    _, w = soft_tokens(plug, hist, examples)  # (Q, N)
    return w.float().cpu().numpy()


@torch.no_grad()
def user_embeddings(
    plug: PersonaPlug, hist, examples: list[Example], kind: str = "plug"
) -> tuple[list[str], np.ndarray]:
    """(users, vectors (U, D)): one vector per user.

    kind="plug": the user soft tokens P_u (flattened), averaged over the user's queries (P_u is input-aware);
    kind="history": the mean of the user's Enc_his history vectors (what the plug starts from).
    """
    if kind not in ("plug", "history"):
        raise ValueError(f"kind must be 'plug' or 'history', got '{kind}'")
    plug.eval()
    users, rows = [], []
    for user, exs in group_by_user(examples).items():
        if kind == "history":
            items = _history(plug, exs[0])
            vec = hist.encode(items).mean(0) if items else torch.zeros(hist.dim)  # (D_enc,)
        else:
            soft, _ = soft_tokens(plug, hist, exs)  # (Q, S, D_llm); the user tokens come last
            vec = soft[:, -plug.cfg.n_user_tokens :].float().mean(0).flatten().cpu()  # (n_user * D_llm,)
        users.append(user)
        rows.append(vec.numpy())
    return users, np.stack(rows)


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Points (N, 2): PCA, or t-SNE (perplexity adapted to small N), seeded."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(vectors, dtype=np.float64)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'tsne', got '{method}'")


def neighbour_agreement(vectors: np.ndarray, labels: list[str]) -> float:
    """Share of points whose nearest other point (cosine) has the same label: how well a space separates personas."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(1)
    return float(np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)]))


class Explorer:
    """Pick a user and a query; see the plug's attention over their history and the answers with and without it."""

    def __init__(
        self, stack, plug: PersonaPlug, examples: list[Example], decoding: str | None = None, max_chars: int = 70
    ):
        self.stack, self.plug = stack, plug
        self.task = stack.task
        # Label ranking always answers with a valid label; free generation is the only choice for generation tasks.
        self.decoding = decoding or ("rank" if self.task.labels else "generate")
        self.by_user = group_by_user(examples)
        self.max_chars = max_chars
        self.state: dict | None = None  # the last selection shown by the widget
        self.figure = None  # the last attention figure drawn by the widget
        self._cache: dict[tuple[str, int], dict] = {}

    @property
    def users(self) -> list[str]:
        return list(self.by_user)

    def queries(self, user: str) -> list[str]:
        """The query texts of one user, in file order."""
        return [e.query for e in self._examples(user)]

    def _examples(self, user: str) -> list[Example]:
        if user not in self.by_user:
            raise KeyError(f"unknown user '{user}'; the explorer knows {len(self.by_user)} users (see .users)")
        return self.by_user[user]

    @torch.no_grad()
    def _answer(self, example: Example, soft: torch.Tensor | None) -> str:
        plm = self.stack.plm
        if self.decoding == "rank":
            return plm.rank([example.input], list(self.task.labels), soft)[0]
        return plm.generate([example.input], soft, self.task.max_new_tokens, self.stack.cfg.num_beams)[0]

    @torch.no_grad()
    def select(self, user: str, query_index: int = 0) -> dict:
        """What one query shows: history items, attention weights, answers with/without the plug, gold."""
        key = (user, int(query_index))
        if key in self._cache:
            return self._cache[key]
        exs = self._examples(user)
        if not 0 <= query_index < len(exs):
            raise IndexError(f"user '{user}' has {len(exs)} queries; query_index {query_index} is out of range")
        ex = exs[query_index]
        self.plug.eval()
        soft, w = soft_tokens(self.plug, self.stack.hist, [ex])  # (1, S, D), (1, N)
        items = _history(self.plug, ex)
        sel = {
            "user": user,
            "query_index": int(query_index),
            "id": ex.id,
            "query": ex.query,
            "input": ex.input,
            "history": items,
            "weights": [float(x) for x in w[0, : len(items)].float().cpu()],
            "with_plug": self._answer(ex, soft),
            "without_plug": self._answer(ex, None),
            "gold": ex.target,
            "persona": persona(ex, self.task),
        }
        self._cache[key] = sel
        return sel

    def describe(self, sel: dict, top: int = 3) -> str:
        """A few lines of text for a selection: the query, the most-attended items and the answers."""
        order = sorted(range(len(sel["weights"])), key=lambda i: -sel["weights"][i])[:top]
        lines = [
            f"user {sel['user']} (persona: {sel['persona']}), query {sel['query_index']}: {sel['query']}",
            f"history: {len(sel['history'])} items; most attended:",
        ]
        lines += [f"  {sel['weights'][i]:.3f}  {sel['history'][i]}" for i in order]
        lines += [
            f"with the plug: {sel['with_plug']} | without (non-personalized): {sel['without_plug']} "
            f"| gold: {sel['gold']}"
        ]
        return "\n".join(lines)

    def show(self, user: str, query_index: int = 0, top: int = 3) -> dict:
        """Print a selection and draw its attention (the widget's view, for a static notebook)."""
        sel = self.select(user, query_index)
        print(self.describe(sel, top))
        plot_attention(sel["weights"], sel["history"], title=self._title(sel), show=True, max_chars=self.max_chars)
        return sel

    def _title(self, sel: dict) -> str:
        return f"attention of user {sel['user']}'s query {sel['query_index']} over their history"

    # ---- the widget ---------------------------------------------------------------------------------
    def _query_options(self, user: str) -> list[tuple[str, int]]:
        cut = lambda t: t if len(t) <= 60 else t[:59] + "…"
        return [(f"{i}: {cut(q)}", i) for i, q in enumerate(self.queries(user))]

    def widget(self):
        """An ipywidgets layout: Dropdowns for user and query, the answers, and an Output with the attention chart."""
        import ipywidgets as W

        first = self.users[0]
        self.user_box = W.Dropdown(options=self.users, value=first, description="user")
        self.query_box = W.Dropdown(
            options=self._query_options(first), value=0, description="query", layout=W.Layout(width="60%")
        )
        self.query_label = W.HTML()
        self.answer_with = W.Label()
        self.answer_without = W.Label()
        self.answer_gold = W.Label()
        self.output = W.Output()
        self._switching = False

        def on_user(change):
            self._switching = True  # new options reset the query box: draw once, after both changed
            try:
                self.query_box.options = self._query_options(change["new"])
                self.query_box.value = 0
            finally:
                self._switching = False
            self._render()

        def on_query(change):
            if not self._switching:
                self._render()

        self.user_box.observe(on_user, names="value")
        self.query_box.observe(on_query, names="value")
        self._render()
        answers = W.VBox([self.answer_with, self.answer_without, self.answer_gold])
        return W.VBox([W.HBox([self.user_box, self.query_box]), self.query_label, answers, self.output])

    def _render(self) -> None:
        from IPython.display import display

        sel = self.select(self.user_box.value, self.query_box.value)
        self.state = sel
        self.query_label.value = (
            f"<b>user</b> {html.escape(sel['user'])} (persona: {html.escape(str(sel['persona']))}, "
            f"{len(sel['history'])} history items) &nbsp; <b>query</b>: {html.escape(sel['query'])}"
        )
        self.answer_with.value = f"with the plug: {sel['with_plug']}"
        self.answer_without.value = f"without the plug (non-personalized): {sel['without_plug']}"
        self.answer_gold.value = f"gold: {sel['gold']}"
        self.figure = plot_attention(
            sel["weights"], sel["history"], title=self._title(sel), show=False, max_chars=self.max_chars
        )
        with self.output:
            self.output.clear_output(wait=True)
            display(self.figure)

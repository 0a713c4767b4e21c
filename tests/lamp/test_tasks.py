"""Every task through every use of its spec: files, query, history and retrieval texts, prompt, download, LoRA.

Adding a LaMP task means adding one TaskSpec; this test walks each one through all the code that reads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from minipplug.engine.lora_per_user import history_pairs
from minipplug.engine.retrieval import render, retrieve_bm25, retrieve_recency
from minipplug.lamp.data import load_examples
from minipplug.lamp.download import lamp_url
from minipplug.lamp.metrics import metric_keys
from minipplug.lamp.samples import sample_paths
from minipplug.lamp.tasks import TASKS, TaskSpec, get_task

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_through_every_use(name: str, fixture_dir: Path) -> None:
    spec = get_task(name)
    assert get_task(spec) is spec and get_task(name.replace("_", "-").lower()) is spec
    examples = load_examples(name, fixture_dir / name / "dev_questions.json", fixture_dir / name / "dev_outputs.json")
    ex = next(e for e in examples if e.profile)
    # The query is a part of the input (LaMP_1: the title of the user's own paper, inside it too).
    assert ex.query and all(word in ex.input for word in ex.query.replace('"', "").split()[:3])
    # Every profile item reads as text for the history encoder and for the retrievers.
    for item in ex.profile:
        assert spec.item_text(item).strip() and spec.retrieval_text(item).strip()
    assert ex.history == [spec.item_text(it) for it in ex.profile]
    # A retrieval prompt: the template filled with the item, the input kept (LaMP_1 splices into it).
    chosen = [ex.profile[i] for i in retrieve_bm25(ex, spec, 1)]
    prompt = render(spec, ex.input, chosen)
    assert str(chosen[0][spec.free_field]) in prompt and prompt != ex.input
    assert len(prompt) > len(ex.input) and ex.input.split()[-1] in prompt
    assert retrieve_recency(ex, len(ex.profile)) != []
    # Labels, metrics and the number of new tokens follow the kind of task.
    assert bool(spec.labels) == (spec.kind != "generation") and spec.max_new_tokens > 0
    assert len(metric_keys(spec)) == 2
    # Its files on LaMP's server, under its own folder.
    assert f"/{spec.lamp_folder}/dev/dev_questions.json" in lamp_url(spec, "dev", "questions")
    # Per-user LoRA needs (input, target) pairs; tasks without them say so.
    if spec.item_pair:
        pairs = history_pairs(ex, spec)
        assert len(pairs) == len(ex.profile) and all(target for _, target in pairs)
    else:
        with pytest.raises(ValueError, match="lora-per-user"):
            history_pairs(ex, spec)
    if spec.persona_field:
        assert spec.persona_field in spec.item_fields
    if spec.sample:
        paths = sample_paths(spec.sample, root=SAMPLES)
        assert load_examples(spec, paths["dev_questions"], paths["dev_outputs"])


def test_the_movie_and_news_versions_of_lamp_2_live_in_different_folders() -> None:
    assert get_task("LaMP_2").lamp_folder == "LaMP_2/new" and get_task("LaMP_2N").lamp_folder == "LaMP_2"
    assert get_task("LaMP_2M") is get_task("LaMP_2")


def test_a_task_is_built_by_keyword() -> None:
    # Several fields share a type (two tuples of strings, two optional strings): a positional value could land in
    # the wrong one unseen, so every TaskSpec names its fields.
    with pytest.raises(TypeError):
        TaskSpec("LaMP_X", "classification", ("text",), None)
    spec = TaskSpec(name="LaMP_X", kind="classification", item_fields=("text",), query_marker=None)
    assert spec.labels == () and spec.max_new_tokens == 32

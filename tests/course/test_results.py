"""Notebook 04's reader of the committed three-seed runs: the checkout's file from any folder below it, GitHub's
copy otherwise, and one line naming the file when neither can be read."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import urllib.error
from pathlib import Path

import pytest

from minipplug.course import results
from minipplug.engine.seeds import CLAIMS
from minipplug.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
RECORDED = sorted(p.parent.name for p in (ROOT / "benchmarks" / "results" / "seeds").glob("*/summary.json"))


def test_found_from_a_folder_below_the_checkout(tmp_path):
    file = tmp_path / "benchmarks" / "results" / "seeds" / "toy" / "summary.json"
    file.parent.mkdir(parents=True)
    file.write_text(json.dumps({"task": "LaMP_2", "claims": []}))
    below = tmp_path / "notebooks" / "deeper"
    below.mkdir(parents=True)
    assert results.seed_summary("toy", start=below) == {"task": "LaMP_2", "claims": []}


def test_outside_a_checkout_it_reads_the_repository_url(tmp_path, monkeypatch):
    asked = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b'{"task": "LaMP_2"}'

    monkeypatch.setattr(results.urllib.request, "urlopen", lambda url, timeout: asked.append(url) or Response())
    assert results.seed_summary("toy", start=tmp_path) == {"task": "LaMP_2"}
    assert asked == [
        "https://raw.githubusercontent.com/minipplug/minipplug/main/benchmarks/results/seeds/toy/summary.json"
    ]


def test_unreadable_everywhere_is_one_line_naming_the_file(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(results.urllib.request, "urlopen", offline)
    with pytest.raises(
        InputError, match=r"benchmarks/results/seeds/toy/summary.json: not in a checkout above .*no net"
    ):
        results.seed_summary("toy", start=tmp_path)


@pytest.mark.parametrize("sample", RECORDED)
def test_recorded_runs_carry_every_claim_and_their_provenance(sample):
    summary = results.seed_summary(sample, start=ROOT)
    assert [c["claim"] for c in summary["claims"]] == [c.text for c in CLAIMS]
    assert summary["seeds"] == [0, 1, 2]
    assert {"command", "machine", "wall_seconds", "date"} <= set(summary["provenance"])
    for method in summary["methods"]:
        assert method["low"] <= method["mean"] <= method["high"]
        assert len(method["per_seed"]) == 3


def test_both_bundled_lamp2_samples_are_recorded_and_kinds_at_trains_own_length():
    assert RECORDED == ["lamp2_kinds", "lamp2_kinds_auto", "lamp2_tags"]
    auto = results.seed_summary("lamp2_kinds_auto", start=ROOT)["provenance"]
    # the length train chooses: cpu-auto with no epoch count, on the lamp2_kinds files
    assert auto["preset"] == "cpu-auto" and "--preset cpu-auto" in auto["command"]
    assert "--epochs" not in auto["command"] and "data_samples/lamp2_kinds/dev_questions.json" in auto["command"]


def test_recording_a_run_adds_provenance_and_names_the_sample_in_its_figure(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("record_seeds", ROOT / "benchmarks" / "record_seeds.py")
    record_seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record_seeds)
    run = tmp_path / "run"
    run.mkdir()
    summary = results.seed_summary("lamp2_kinds", start=ROOT)
    summary = {k: v for k, v in summary.items() if k not in ("sample", "provenance")}  # as compare writes it
    (run / "summary.json").write_text(json.dumps(summary))
    for name in record_seeds.FILES:
        (run / name).write_text(f"{name} as compare wrote it\n")
    titles = []
    monkeypatch.setattr(record_seeds, "plot_seed_summary", lambda s, path: titles.append((s["sample"], path)))
    dest = record_seeds.record(run, "toy", {"command": "minipplug compare --seeds 0 1 2"}, dest_root=tmp_path / "out")
    recorded = json.loads((dest / "summary.json").read_text())
    assert recorded == {"sample": "toy", "provenance": {"command": "minipplug compare --seeds 0 1 2"}, **summary}
    assert [(dest / n).read_text() for n in record_seeds.FILES] == [
        f"{n} as compare wrote it\n" for n in record_seeds.FILES
    ]
    assert titles == [("toy", dest / "summary.png")]


def test_adding_a_run_appends_its_new_rows_and_recomputes_the_claims(tmp_path, monkeypatch):
    from minipplug.engine.seeds import summarize, write_seed_reports
    from minipplug.lamp.data import Example
    from minipplug.lamp.tasks import get_task

    spec = importlib.util.spec_from_file_location("record_seeds", ROOT / "benchmarks" / "record_seeds.py")
    record_seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record_seeds)
    monkeypatch.setattr(record_seeds, "plot_seed_summary", lambda s, path: None)
    golds = {"q1": "sci-fi", "q2": "comedy", "q3": "romance"}
    dev = [Example(i, f"description: {i}", i, [], [], t, "u" + i) for i, t in golds.items()]

    def rows(*methods: str) -> dict[int, list[dict]]:  # pplug right on every question, pplug+retrieval on q1 only
        answers = {
            "pplug": golds,
            "bm25-k4": dict.fromkeys(golds, "action"),
            "pplug+retrieval": {**dict.fromkeys(golds, "action"), "q1": "sci-fi"},
        }
        return {s: [{"method": m, "decoding": "generate", "_answers": answers[m]} for m in methods] for s in (0, 1)}

    first, later = tmp_path / "first", tmp_path / "later"
    for folder, by_seed in [(first, rows("pplug", "bm25-k4")), (later, rows("pplug", "pplug+retrieval"))]:
        write_seed_reports(by_seed, summarize(by_seed, dev, get_task("LaMP_2")), folder)
    out = tmp_path / "out"
    record_seeds.record(first, "toy", {"command": "first"}, dest_root=out)
    dest = record_seeds.add(later, "toy", {"command": "later"}, dest_root=out)
    summary = json.loads((dest / "summary.json").read_text())
    lines = [json.loads(line) for line in (dest / "seeds.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["method"]) for r in lines] == [
        (0, "pplug"),
        (0, "bm25-k4"),
        (1, "pplug"),
        (1, "bm25-k4"),
        (0, "pplug+retrieval"),
        (1, "pplug+retrieval"),
    ]
    assert [m["method"] for m in summary["methods"]] == ["pplug", "bm25-k4", "pplug+retrieval"]
    assert summary["methods"][-1]["pplug_minus_this"]["mean"] == pytest.approx(2 / 3)
    assert summary["provenance"] == {
        "command": "first",
        "added": [{"command": "later", "methods": ["pplug+retrieval"]}],
    }
    claim = {c["a"]: c for c in summary["claims"]}["pplug+retrieval"]
    assert claim["measured"]["mean"] == pytest.approx(-2 / 3)  # was "not run" before the rows were added
    assert claim["verdict"] == ("cannot tell" if claim["measured"]["high"] >= 0 else "does not hold here")
    line = next(ln for ln in (dest / "claims.md").read_text().splitlines() if ln.startswith("| PPlug + retrieval"))
    assert "| -0.667 |" in line and "not run" not in line  # the first run's claims.md said "not run" here
    assert "| pplug+retrieval | generate |" in (dest / "summary.md").read_text()


def test_a_run_that_does_not_reproduce_pplug_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("record_seeds", ROOT / "benchmarks" / "record_seeds.py")
    record_seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record_seeds)
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "benchmarks" / "results" / "seeds" / "lamp2_kinds", seeds / "lamp2_kinds")
    monkeypatch.setattr(record_seeds, "SEEDS", seeds)
    before = {p.name: p.read_bytes() for p in (seeds / "lamp2_kinds").iterdir()}
    summary = json.loads(before["summary.json"])
    pplug = next(e for e in summary["methods"] if (e["method"], e["decoding"]) == ("pplug", "generate"))
    recorded_per_seed, pplug["per_seed"] = pplug["per_seed"], [0.1, 0.2, 0.3]  # another plug's answers
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "seeds.jsonl").write_text("")
    argv = ["record_seeds.py", str(run), "lamp2_kinds", "--add", "--wall-seconds", "1", "--threads", "1"]
    monkeypatch.setattr(sys, "argv", argv + ["--command", "x"])
    with pytest.raises(SystemExit) as stop:
        record_seeds.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"record_seeds.py: {run}: pplug (generate) does not reproduce the recorded run: per seed "
        f"[0.1, 0.2, 0.3] here, {recorded_per_seed} recorded"
    ]
    assert {p.name: p.read_bytes() for p in (seeds / "lamp2_kinds").iterdir()} == before

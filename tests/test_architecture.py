"""The folder rules, read from the source with ast: which sub-package may import which, and no import circles.

config, errors, atomic   the foundation: standard library only, imported by everyone
model   the paper's model: imports only itself, the foundation, torch, transformers, safetensors, tqdm
lamp    the LaMP benchmark: imports only itself and the foundation; no torch at all
engine  imports model, lamp and the foundation
course  imports engine, model, lamp and the foundation
cli     imports anything; nothing in the package imports cli or course except cli (and notebooks)
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "minipplug"
FOUNDATION = {"config", "errors", "atomic"}
LAYERS = ["foundation", "model", "lamp", "engine", "course", "cli"]
ALLOWED = {
    "foundation": {"foundation"},
    "model": {"foundation", "model"},
    "lamp": {"foundation", "lamp"},
    "engine": {"foundation", "model", "lamp", "engine"},
    "course": {"foundation", "model", "lamp", "engine", "course"},
    "cli": set(LAYERS),
}
MODEL_THIRD_PARTY = {"torch", "transformers", "safetensors", "tqdm"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "top"  # the public API and the `python -m minipplug` entry point may name anything
    return "foundation" if parts[1] in FOUNDATION else parts[1]


def imports(path: Path) -> list[tuple[str, int]]:
    """Absolute names of everything a module imports (at any depth), with line numbers."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            # `from pkg import submodule` imports the submodule.
            for a in node.names:
                sub = f"{name}.{a.name}"
                is_module = (PKG.parent / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    PKG.parent / Path(*sub.split(".")) / "__init__.py"
                ).exists()
                out.append((sub if is_module else name, node.lineno))
    return out


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}
EDGES = {m: [(i, line) for i, line in imports(p) if i.split(".")[0] == "minipplug"] for m, p in MODULES.items()}


def test_the_package_has_the_sub_packages_of_the_architecture():
    assert {layer(m) for m in MODULES} == {"top", *LAYERS}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_folder_rules(module):
    here = layer(module)
    if here == "top":
        return
    bad = [
        f"{MODULES[module].relative_to(PKG.parent)}:{line} imports {target}"
        for target, line in EDGES[module]
        if layer(target) not in ALLOWED[here] and target != "minipplug"
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "model"))
def test_the_model_uses_only_torch_and_transformers(module):
    third = {name.split(".")[0] for name, _ in imports(MODULES[module])} - {"minipplug", "__future__"}
    assert third - set(sys.stdlib_module_names) <= MODEL_THIRD_PARTY


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "lamp"))
def test_the_benchmark_imports_no_torch(module):
    assert not [n for n, _ in imports(MODULES[module]) if n.split(".")[0] in {"torch", "transformers"}]


def test_no_import_circles():
    graph = {m: {t for t, _ in EDGES[m] if t in MODULES and t != m} for m in MODULES}
    # Tarjan's strongly connected components: a circle is a component with more than one module.
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for m in graph:
        if m not in index:
            visit(m)
    assert not circles, circles


def test_the_rule_reader_sees_a_planted_violation(tmp_path):
    # The checker itself must catch what it is for: a model module that imports the engine.
    bad = PKG / "model" / "_planted_for_test.py"
    bad.write_text("from ..engine.stack import load_stack\n")
    try:
        found = [t for t, _ in imports(bad)]
        assert found == ["minipplug.engine.stack"] and layer(found[0]) not in ALLOWED["model"]
    finally:
        bad.unlink()


def test_the_command_line_parses_and_refuses_bad_input_without_torch(tmp_path):
    """`minipplug --help` and one-line input errors (data check, train) come back at once: none imports torch or
    transformers (torch alone takes ~1.5 s), so the registry, the retrievers and train import them when used."""
    code = (
        "import sys\n"
        "from minipplug.cli import main\n"
        "for argv in (['train', '--help'], ['compare', '--help'], ['data', 'check', '--task', 'LaMP_2', '--questions',"
        " 'missing.json'], ['train', '--task', 'LaMP_2', '--train-questions', 'absent.json', '--train-outputs',"
        " 'absent.json', '--out', 'out']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "missing.json" in proc.stderr and "absent.json" in proc.stderr  # both input errors were printed
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout

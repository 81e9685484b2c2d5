"""The layering of the package: inference never imports training, models never import tools, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "spatialgan"

# Layers that must run without the training engine (inference, tools, the API, the studio).
INFERENCE = ("spatialgan.api", "spatialgan.rendering", "spatialgan.registry", "spatialgan.config",
             "spatialgan.checkpoint", "spatialgan.latents", "spatialgan.options", "spatialgan.core",
             "spatialgan.models", "spatialgan.metrics", "spatialgan.serve", "spatialgan.imageutils",
             "spatialgan.runtime")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool) -> set[str]:
    """spatialgan modules a file imports (anywhere in it, or only at module level)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spatialgan"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("spatialgan"))
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {m for m in found if m in modules}


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def in_layer(module: str, layers) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


def test_inference_and_models_never_import_training():
    offenders = [f"{name} imports {target}" for name, path in all_modules().items() if in_layer(name, INFERENCE)
                 for target in imports(path, top_level_only=False) if in_layer(target, ("spatialgan.training",))]
    assert not offenders, offenders


def test_models_and_the_core_never_import_tools():
    tools = ("spatialgan.api", "spatialgan.serve", "spatialgan.cli", "spatialgan.demo", "spatialgan.metrics",
             "spatialgan.config")
    offenders = [f"{name} imports {target}" for name, path in all_modules().items()
                 if in_layer(name, ("spatialgan.models", "spatialgan.core"))
                 for target in imports(path, top_level_only=False) if in_layer(target, tools)]
    assert not offenders, offenders


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, stack + [nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_no_import_cycles_at_module_level():
    modules = all_modules()
    graph = {name: {t for t in imports(path, top_level_only=True) if t != name} for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how packages export; drop those self-edges.
    graph = {n: {t for t in ts if not t.startswith(n + ".")} for n, ts in graph.items()}
    assert find_cycle(graph) is None, find_cycle(graph)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_loading_and_rendering_a_model_leaves_the_training_engine_unimported():
    code = ("import sys, spatialgan\n"
            "m = spatialgan.load('cips')\n"
            "m.sample([0]); m.render(seed=0, size=(16, 8))\n"
            "spatialgan.load('ssn').resample([(0, 1)], count=1, seed=0)\n"
            "from spatialgan.serve.app import create_app, load_studio\n"
            "create_app(load_studio(['scaleparty']))\n"
            "bad = [n for n in sys.modules if n.startswith('spatialgan.training')]\n"
            "assert not bad, bad\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def readme_python_blocks() -> list[str]:
    text = (PACKAGE.parent / "README.md").read_text()
    blocks, inside, current = [], False, []
    for line in text.splitlines():
        if line.strip() == "```python":
            inside, current = True, []
        elif inside and line.strip() == "```":
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


def test_the_readme_python_api_example_runs(tmp_path, monkeypatch):
    blocks = readme_python_blocks()
    assert blocks, "the README has no ```python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


@pytest.mark.parametrize("module", sorted(all_modules()))
def test_every_module_says_its_role_in_a_docstring(module):
    assert ast.get_docstring(ast.parse(all_modules()[module].read_text())), module

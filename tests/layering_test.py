"""The package's shape: dependencies run one way and no module imports itself in a circle.

``trainer_module`` is layered search -> model -> spec -> data (``distribute`` beside
them); the product packages (``components``, ``pipelines``, ``trainer_module``) form no
import cycle, counting imports inside functions too.
"""
import ast
import os
from typing import Dict, Set

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("components", "pipelines", "trainer_module")
LAYERS = ("data", "spec", "model", "search")  # each may import only those before it


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, REPO)[:-len(".py")].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _imports(path: str, modules: Set[str]) -> Set[str]:
    """The product modules ``path`` imports (``from a import b`` counts ``a.b`` when a module)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = _module_name(path).rsplit(".", 1)[0] if not path.endswith("__init__.py") \
        else _module_name(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                     for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def _graph() -> Dict[str, Set[str]]:
    paths = {}
    for package in PACKAGES:
        for root, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    paths[_module_name(path)] = path
    modules = set(paths)
    return {m: _imports(p, modules) - {m} for m, p in paths.items()}


def _layer(module: str):
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "trainer_module" and parts[1] in LAYERS \
        else None


def test_trainer_module_layers_run_one_way():
    wrong = []
    for module, deps in _graph().items():
        layer = _layer(module)
        if layer is None:
            continue
        allowed = set(LAYERS[:LAYERS.index(layer) + 1])
        wrong += [f"{module} -> {d}" for d in deps
                  if d.startswith("trainer_module.") and _layer(d) not in allowed | {None}]
        wrong += [f"{module} -> {d}" for d in deps if d.split(".")[0] in ("components", "pipelines")]
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    graph, state, cycles = _graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)

"""The shape of the code: imports point down the layers and no two packages import each other.

    entry scripts (main_*.py, analysis*.py, ..., and every package's __main__.py)
    workflows
    unlearn, memorization
    evaluation
    datasets, models
    engine
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"engine": 0, "datasets": 1, "models": 1, "evaluation": 2, "unlearn": 3, "memorization": 3,
          "workflows": 4}


def module_name(path, root=ROOT):
    return ".".join(path.relative_to(root).with_suffix("").parts)


def imported_modules(path, root=ROOT):
    """Absolute names of every module `path` imports, lazy imports inside functions included."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def library_edges():
    """(importing module, its package, imported package) for every library module; a package's
    __main__.py is an entry point (`python -m package`) and sits with the entry scripts."""
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":
                continue
            for target in imported_modules(path):
                top = target.split(".")[0]
                if top in LAYERS and top != package:
                    yield module_name(path), package, top


def test_imports_point_down():
    upward = [f"{mod} ({pkg}) imports {top}" for mod, pkg, top in library_edges()
              if LAYERS[top] > LAYERS[pkg]]
    assert not upward, "\n".join(upward)


def test_no_package_cycles():
    graph = {}
    for _, pkg, top in library_edges():
        graph.setdefault(pkg, set()).add(top)

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n)))
                   for n in graph.get(start, ()))

    cycles = [p for p in LAYERS if reaches(p, p)]
    assert not cycles, f"packages on an import cycle: {cycles}; edges {graph}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser resolves relative and lazy imports (else the two tests above prove nothing)."""
    fake = tmp_path / "engine" / "sub" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("import torch\ndef f():\n    from workflows import forget\n    from ..io import write_json\n")
    assert set(imported_modules(fake, tmp_path)) == {"torch", "workflows", "engine.io"}

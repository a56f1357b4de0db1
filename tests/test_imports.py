"""The import graph of genjax, experiments and benchmarks: no cycle, no private name taken from another module.

Every ``import`` / ``from ... import`` statement is read from the source (also those inside functions,
which hide a cycle from the interpreter but not from a reader). An edge goes to the most specific
module named (``from genjax import samplers`` -> genjax.samplers). Strongly connected components of
more than one module are cycles. ``KNOWN_CYCLES`` / ``KNOWN_PRIVATE`` list accepted exceptions
(none today); the test fails on anything new, and on a listed entry that has gone (so the lists
only shrink).
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("genjax", "experiments", "benchmarks")

KNOWN_CYCLES: set = set()
KNOWN_PRIVATE: set = set()


def _modules() -> dict:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _resolve(mods, importer: str, is_pkg: bool, node) -> list:
    """[(target module, imported name or None)] of one import statement (internal modules only)."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name:
                out.append((name, None))
        return out
    base = node.module or ""
    if node.level:
        parts = importer.split(".")
        parts = parts if is_pkg else parts[:-1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    if base.split(".")[0] not in PACKAGES:
        return out
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append((sub, None) if sub in mods else (base, alias.name))
    return out


def _graph():
    mods = _modules()
    edges, private = {m: set() for m in mods}, set()
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target, name in _resolve(mods, mod, is_pkg, node):
                if target not in mods or target == mod:
                    continue
                edges[mod].add(target)
                if name and name.startswith("_") and not name.startswith("__"):
                    private.add((mod, target, name))
    return edges, private


def _cycles(edges) -> set:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), set(), [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.add(frozenset(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return comps


def _package_edges(edges) -> dict:
    """The graph of the top-level packages (genjax, experiments, benchmarks)."""
    out = {p: set() for p in PACKAGES}
    for src, targets in edges.items():
        out[src.split(".")[0]] |= {t.split(".")[0] for t in targets} - {src.split(".")[0]}
    return out


def test_no_import_cycles():
    edges, _ = _graph()
    cycles = _cycles(edges) | _cycles(_package_edges(edges))
    assert cycles - KNOWN_CYCLES == set(), sorted(sorted(c) for c in cycles - KNOWN_CYCLES)
    assert KNOWN_CYCLES - cycles == set(), f"fixed, remove from KNOWN_CYCLES: {KNOWN_CYCLES - cycles}"


def test_no_private_names_across_modules():
    _, private = _graph()
    assert private - KNOWN_PRIVATE == set(), sorted(private - KNOWN_PRIVATE)
    assert KNOWN_PRIVATE - private == set(), f"fixed, remove from KNOWN_PRIVATE: {KNOWN_PRIVATE - private}"


def test_the_graph_sees_imports_inside_functions():
    # The walker must find a lazy import (the kind that hides cycles): one written inside a function.
    src = "def f():\n    from genjax.samplers import base\n"
    mods = _modules()
    node = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom))
    assert _resolve(mods, "genjax.x", False, node) == [("genjax.samplers.base", None)]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == {frozenset({"a", "b"})}

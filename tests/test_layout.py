"""The package layout: small modules, no import cycles, and floors that import only downwards.

Read from the source (``ast``), nothing is imported. Every ``import`` counts, also those inside
functions and under ``TYPE_CHECKING``; a package's ``__init__`` importing its own submodules
is not an edge (that is what a package does). The floors, from the ground up (README,
"Layout"):

0. ``crawler`` itself: ``items``, ``settings``, ``stats_keys``, ``config``
1. ``crawler.extract``   pure text work
2. ``crawler.sites``, ``crawler.discovery``  site knowledge and article discovery, offline
3. ``crawler.archive``   the database side
4. ``crawler.ops``       runner, run records, alerts
5. ``crawler.components`` Scrapy middlewares and extensions
6. ``crawler.cli``, ``crawler.commands``, ``crawler.__main__``  commands
7. ``spiders``, ``pipelines``

A module imports its own floor or floors below it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "spiders", "pipelines")
MAX_LINES = 400
FLOORS: tuple[tuple[str, ...], ...] = (
    ("crawler.items", "crawler.settings", "crawler.stats_keys", "crawler.config", "crawler"),
    ("crawler.extract",),
    ("crawler.sites", "crawler.discovery"),
    ("crawler.archive",),
    ("crawler.ops",),
    ("crawler.components",),
    ("crawler.cli", "crawler.commands", "crawler.__main__"),
    ("spiders", "pipelines"),
)
#: Third-party packages a part of the package must not reach, directly or through the modules
#: it imports (type-only imports aside): parsers run in a notebook with nothing else, and the
#: archive serves the CLI and the API without a crawler.
FORBIDDEN = {
    "crawler.extract": ("scrapy", "twisted", "pymongo", "bson"),
    "crawler.sites": ("scrapy", "twisted", "pymongo", "bson"),
    "crawler.discovery": ("scrapy", "twisted", "pymongo", "bson"),
    "crawler.archive": ("scrapy", "twisted"),
}


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    is_package: bool
    #: ``crawler``/``spiders``/``pipelines`` modules imported (at run time, and type-only).
    imports: set[str] = field(default_factory=set)
    type_only: set[str] = field(default_factory=set)
    #: For a package: its own submodules that its ``__init__`` imports (not a cycle's edge).
    own_submodules: set[str] = field(default_factory=set)
    #: Top-level names of other packages imported at run time.
    third_party: set[str] = field(default_factory=set)


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    found.update(id(sub) for sub in ast.walk(child))
    return found


def _imported(node: ast.Import | ast.ImportFrom, module: Module, known: set[str]) -> Iterator[str]:
    """Dotted names an import statement brings in (a submodule when ``from P import sub``)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}".strip(".")
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        yield candidate if candidate in known else base


def _owner(name: str, known: set[str]) -> str | None:
    """The known module ``name`` is, or lies in (``crawler.archive.store.connect`` -> store)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def load_modules(root: Path = REPO_ROOT) -> dict[str, Module]:
    paths = [p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))]
    modules: dict[str, Module] = {}
    trees: dict[str, ast.Module] = {}
    for path in paths:
        name, is_package = _module_name(path, root)
        text = path.read_text(encoding="utf-8")
        modules[name] = Module(name, path, len(text.splitlines()), is_package)
        trees[name] = ast.parse(text, filename=str(path))
    known = set(modules)
    for name, tree in trees.items():
        module = modules[name]
        type_only = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for imported in _imported(node, module, known):
                owner = _owner(imported, known)
                if owner is None:
                    if id(node) not in type_only and not (
                        isinstance(node, ast.ImportFrom) and node.level
                    ):
                        module.third_party.add(imported.partition(".")[0])
                    continue
                if owner == name:
                    continue
                if module.is_package and owner.startswith(f"{name}."):
                    module.own_submodules.add(owner)
                    continue
                (module.type_only if id(node) in type_only else module.imports).add(owner)
    return modules


MODULES = load_modules()


def floor_of(name: str) -> int:
    best: tuple[int, int] | None = None  # (length of the matching prefix, floor)
    for floor, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            matches = name == prefix or name.startswith(f"{prefix}.")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), floor)
    assert best is not None, f"{name} is on no floor: add it to FLOORS and the README's Layout"
    return best[1]


def long_modules(modules: dict[str, Module]) -> list[str]:
    return [
        f"{m.path.name} ({m.name}) has {m.lines} lines: split it (at most {MAX_LINES})"
        for m in modules.values()
        if m.lines > MAX_LINES
    ]


def upward_imports(modules: dict[str, Module]) -> list[str]:
    return [
        f"{name} (floor {floor_of(name)}) imports {imported} (floor {floor_of(imported)})"
        for name, module in sorted(modules.items())
        for imported in sorted(module.imports | module.type_only)
        if floor_of(imported) > floor_of(name)
    ]


def import_cycles(modules: dict[str, Module]) -> list[str]:
    graph = {name: module.imports | module.type_only for name, module in modules.items()}
    return [" -> ".join(cycle) for cycle in _cycles(graph)]


def forbidden_reach(modules: dict[str, Module], part: str) -> list[str]:
    """Modules of ``part`` that reach a package ``FORBIDDEN`` for it, and through which."""
    reached = []
    for name in sorted(modules):
        if name != part and not name.startswith(f"{part}."):
            continue
        for via in sorted(_reachable(modules, name)):
            bad = sorted(modules[via].third_party & set(FORBIDDEN[part]))
            if bad:
                reached.append(f"{name} reaches {', '.join(bad)} through {via}")
    return reached


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _reachable(modules: dict[str, Module], name: str) -> set[str]:
    """``name`` and every package module it imports at run time, directly or not."""
    seen = {name}
    todo = [name]
    while todo:
        module = modules[todo.pop()]
        for imported in module.imports | module.own_submodules:
            # Importing a.b.c runs a/__init__ and a/b/__init__ first.
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):
                step = ".".join(parts[:end])
                if step in modules and step not in seen:
                    seen.add(step)
                    todo.append(step)
    return seen


# --- the project -------------------------------------------------------------------------------


def test_the_modules_are_found() -> None:
    assert {"crawler.items", "crawler.archive.store", "pipelines.archive"} <= set(MODULES)
    assert "crawler.archive.store" in MODULES["crawler.archive.location"].imports


def test_no_module_is_over_400_lines() -> None:
    assert not long_modules(MODULES), "\n".join(long_modules(MODULES))


def test_every_module_is_on_a_floor() -> None:
    for name in MODULES:
        floor_of(name)


def test_modules_import_only_their_floor_or_below() -> None:
    assert not upward_imports(MODULES), "\n".join(upward_imports(MODULES))


def test_no_import_cycles() -> None:
    assert not import_cycles(MODULES), "import cycles: " + "; ".join(import_cycles(MODULES))


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_offline_parts_do_not_reach_the_crawl_machinery(part: str) -> None:
    problems = forbidden_reach(MODULES, part)
    assert not problems, "\n".join(problems)


# --- the checks themselves, on a small package with every fault ---------------------------------

FAULTY_TREE = {
    "crawler/__init__.py": "",
    "crawler/items.py": "",
    "crawler/extract/__init__.py": "from crawler.extract import text\n",
    "crawler/extract/text.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pymongo\n"
        "def f():\n    from ..archive import store\n"
    ),
    "crawler/archive/__init__.py": "",
    "crawler/archive/store.py": "import crawler.archive.reader\n",
    "crawler/archive/reader.py": "from crawler.archive.helpers import go\nimport crawler.items\n",
    "crawler/archive/helpers.py": "from crawler.extract import text\nimport scrapy\n",
    "spiders/__init__.py": "",
    "pipelines/__init__.py": "x = 1\n" * (MAX_LINES + 1),
}


@pytest.fixture
def faulty(tmp_path: Path) -> dict[str, Module]:
    for relative, text in FAULTY_TREE.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_modules(tmp_path)


def test_a_function_level_relative_import_is_an_edge(faulty: dict[str, Module]) -> None:
    assert faulty["crawler.extract.text"].imports == {"crawler.archive.store"}
    assert faulty["crawler.extract"].imports == set()  # its own submodule
    assert faulty["crawler.extract"].own_submodules == {"crawler.extract.text"}


def test_an_upward_import_is_found(faulty: dict[str, Module]) -> None:
    assert upward_imports(faulty) == [
        "crawler.extract.text (floor 1) imports crawler.archive.store (floor 3)"
    ]


def test_a_cycle_is_found(faulty: dict[str, Module]) -> None:
    assert import_cycles(faulty) == [
        "crawler.archive.helpers -> crawler.archive.reader -> crawler.archive.store"
        " -> crawler.extract.text"
    ]


def test_a_forbidden_package_is_found_through_the_modules_imported(
    faulty: dict[str, Module],
) -> None:
    # pymongo under TYPE_CHECKING does not count; scrapy, two imports away, does.
    assert forbidden_reach(faulty, "crawler.extract") == [
        "crawler.extract reaches scrapy through crawler.archive.helpers",
        "crawler.extract.text reaches scrapy through crawler.archive.helpers",
    ]


def test_a_long_module_is_found(faulty: dict[str, Module]) -> None:
    assert long_modules(faulty) == [
        f"__init__.py (pipelines) has {MAX_LINES + 1} lines: split it (at most {MAX_LINES})"
    ]

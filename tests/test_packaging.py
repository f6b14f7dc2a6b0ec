"""An install without the test extras runs: every package the code imports is a dependency."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "mediation"


def runtime_distributions() -> set[str]:
    """The distributions `pip install .` brings: the dependencies and theirs, with the extras
    a dependency is asked for (e.g. `eventsourcing[crypto]`), not the project's own extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pending = [Requirement(text) for text in project["dependencies"]]
    seen: set[tuple[str, str]] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        for extra in ("", *requirement.extras):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for text in metadata.requires(name) or []:
                needed = Requirement(text)
                if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                    pending.append(needed)
    return {name for name, _extra in seen}


def imported_top_levels() -> dict[str, Path]:
    """Each top-level module the package imports, outside the standard library and itself."""
    modules: dict[str, Path] = {}
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "mediation":
                    modules.setdefault(top, path)
    return modules


def test_every_package_the_code_imports_comes_with_its_runtime_dependencies() -> None:
    providers = metadata.packages_distributions()
    runtime = runtime_distributions()
    missing = {
        module: str(path.relative_to(ROOT))
        for module, path in imported_top_levels().items()
        if not {canonicalize_name(d) for d in providers.get(module, [])} & runtime
    }
    assert missing == {}, f"imported, but not a runtime dependency: {missing}"


def test_the_check_sees_a_package_that_only_the_test_extras_bring() -> None:
    assert "hypothesis" not in runtime_distributions()
    assert "sqlalchemy" in runtime_distributions()
    assert "pycryptodome" in runtime_distributions()  # through eventsourcing[crypto]

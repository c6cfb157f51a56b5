"""The layout app/__init__.py describes: packages import only those after them, SQL stays in the
store, ml stays pure, and no module grows past 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

# Data flows down this list: a package imports only those after it (and itself).
ORDER = ["dashboard", "api", "web", "derived", "customers", "serving", "training", "ingest", "store", "ml"]
SHARED = {"config", "db", "clock", "metrics", "logs"}  # importable by every package but ml
ASSEMBLY = {"main", "cli", "migrate", "simulate"}  # put the packages together: may import any
SQL = ("sqlalchemy", "psycopg", "alembic")
HTTP = ("fastapi", "starlette", "uvicorn", "pydantic", "httpx")


def modules() -> list[tuple[str, list[str]]]:
    """(module path relative to app/, the modules it imports, absolute)."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.append(node.module)
                if node.module == "app":
                    imported += [f"app.{a.name}" for a in node.names]
        found.append((path.relative_to(APP).as_posix(), imported))
    return found


def where(relative: str) -> str:
    """A module's package (or its own name for a file at the top)."""
    return relative.split("/")[0].removesuffix(".py")


def test_packages_import_only_those_after_them() -> None:
    wrong = []
    for relative, imported in modules():
        home = where(relative)
        if home in ASSEMBLY or home == "__init__":
            continue
        for name in imported:
            if not name.startswith("app."):
                continue
            target = name.split(".")[1]
            if target == home:
                continue
            if home in SHARED:
                allowed = target in SHARED or target == "ml"
            elif home == "ml":
                allowed = False
            else:
                allowed = (target in SHARED) or (target in ORDER and ORDER.index(target) > ORDER.index(home))
            if not allowed:
                wrong.append(f"{relative} imports {name}")
    assert wrong == []


def test_sql_only_in_the_store_and_db() -> None:
    wrong = [
        f"{relative} imports {name}"
        for relative, imported in modules()
        for name in imported
        if name.split(".")[0] in SQL and where(relative) not in ("store", "db", "migrate")
    ]
    assert wrong == []


def test_ml_imports_nothing_of_http_sql_or_the_rest_of_nbo() -> None:
    wrong = [
        f"{relative} imports {name}"
        for relative, imported in modules()
        if where(relative) == "ml"
        for name in imported
        if name.split(".")[0] in SQL + HTTP or (name.startswith("app.") and not name.startswith("app.ml"))
    ]
    assert wrong == []


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for init in sorted(APP.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.parent.name}: no docstring"
        assert "import" in doc.lower(), f"{init.parent.name}: its docstring does not say what it may import"


def test_no_module_over_300_lines() -> None:
    long = {
        path.relative_to(APP).as_posix(): n
        for path in APP.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 300
    }
    assert long == {}

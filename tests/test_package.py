"""Package-level guarantees: the public API, import hygiene, the exception tree."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import typedgen
from typedgen import _errors


def test_import_typedgen_imports_neither_vllm_nor_torch_nor_ray() -> None:
    code = (
        "import sys, typedgen\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'vllm', 'torch', 'ray'})\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("name", typedgen.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(typedgen, name) is not None


def test_public_names_are_exactly_all() -> None:
    public = {name for name in dir(typedgen) if not name.startswith("_")}
    assert public == set(typedgen.__all__) - {"__version__"}


def test_public_objects_keep_their_public_module_name() -> None:
    for name in typedgen.__all__:
        value = getattr(typedgen, name)
        module = getattr(value, "__module__", None)
        if isinstance(value, type) or callable(value):
            assert module is not None and module.startswith("typedgen"), name


def test_every_error_derives_from_the_root() -> None:
    for name in _errors.__all__:
        error = getattr(_errors, name)
        assert issubclass(error, typedgen.TypedgenError)
        assert getattr(typedgen, name) is error


def test_schema_error_names_pointer_and_keyword() -> None:
    error = typedgen.SchemaError("unsupported", pointer="/properties/a~1b", keyword="not")
    assert error.pointer == "/properties/a~1b"
    assert error.keyword == "not"
    assert "/properties/a~1b/not" in str(error)
    assert isinstance(error, ValueError)


def test_generation_error_keeps_the_text() -> None:
    error = typedgen.TruncatedGenerationError("cut", text='{"a": 1', finish_reason="length")
    assert error.text == '{"a": 1'
    assert error.finish_reason == "length"
    assert isinstance(error, typedgen.GenerationError)


def _modules(*, public: bool) -> list[str]:
    """typedgen's modules, public ones (no part of the name starts with ``_``) or the rest."""
    names = ["typedgen"]
    for info in pkgutil.walk_packages(typedgen.__path__, "typedgen."):
        names.append(info.name)
    return sorted(n for n in names if public == all(not p.startswith("_") for p in n.split(".")))


def _import(name: str) -> ModuleType:
    needs = {"typedgen.processors.vllm": "vllm", "typedgen.ray": "ray"}.get(name)
    if needs is not None and importlib.util.find_spec(needs) is None:
        pytest.skip(f"{name} imports {needs}")
    return importlib.import_module(name)


def _exported_by_source(module: ModuleType) -> set[str]:
    """The public names that ``module``'s source defines or re-exports: its top-level
    functions, classes and assignments, and, for a package, the names its ``__init__`` imports
    from typedgen's modules (also under ``if TYPE_CHECKING:``, where the lazy re-exports are
    spelled out). Imports from outside typedgen (``typing``, ``vllm``, ...), and a plain
    module's imports, are not exports."""
    assert module.__file__ is not None
    package = Path(module.__file__).name == "__init__.py"
    tree = ast.parse(Path(module.__file__).read_text())
    names: set[str] = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If):
            statements += node.body + node.orelse
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif (
            isinstance(node, ast.ImportFrom)
            and package
            and (node.level > 0 or (node.module or "").split(".")[0] == "typedgen")
        ):
            names.update(alias.asname or alias.name for alias in node.names)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", _modules(public=True))
def test_public_module_all_is_what_it_exports(name: str) -> None:
    """Like httpx's test_exported_members: every public name a public module defines or
    re-exports is in its ``__all__``, and every name of ``__all__`` exists."""
    module = _import(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    for public in exported:
        assert getattr(module, public, None) is not None, f"{name}.{public} does not exist"
    listed = {n for n in exported if not n.startswith("_")}
    submodules = {n for n in listed if isinstance(getattr(module, n), ModuleType)}
    assert _exported_by_source(module) - submodules == listed - submodules, name


@pytest.mark.parametrize("name", _modules(public=False))
def test_private_module_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(getattr(module, "__all__", []))
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"

"""Package-level guarantees: the public API, import hygiene, the exception tree."""

from __future__ import annotations

import subprocess
import sys

import pytest

import typedgen
from typedgen import _errors


def test_import_typedgen_imports_neither_vllm_nor_torch() -> None:
    code = (
        "import sys, typedgen\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'vllm', 'torch'})\n"
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

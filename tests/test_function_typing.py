"""Typed functions keep their signatures for type checkers: mypy's reveal_type sees the
original parameters and the return annotation (sync and async)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SOURCE = '''
import dataclasses
import typedgen

@dataclasses.dataclass
class Invoice:
    number: str
    total: float

@typedgen.fn
def extract(text: str, *, strict: bool = False) -> Invoice:
    """Extract the invoice fields from the text."""

@typedgen.fn(max_tokens=64)
async def label(text: str) -> list[int]:
    """Label the text."""

async def use() -> None:
    reveal_type(await label("x"))

reveal_type(extract("x"))
reveal_type(extract)
extract(1)
extract("x", strict=1)
'''


@pytest.mark.slow
def test_reveal_type(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    module = tmp_path / "typed_usage.py"
    module.write_text(textwrap.dedent(SOURCE))
    # The heavy engines are not needed to type typedgen's API: skip them (fast, and their own
    # errors are not ours). A docstring-only body is what typed functions are written with.
    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\ndisable_error_code = empty-body\n"
        "[mypy-vllm.*,torch.*,transformers.*,triton.*,numpy.*]\nfollow_imports = skip\n"
        "follow_imports_for_stubs = True\nignore_missing_imports = True\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(module),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    out = "\n".join(line for line in result.stdout.splitlines() if "typed_usage.py" in line)
    assert 'Revealed type is "typed_usage.Invoice"' in out, out
    assert 'Revealed type is "list[int]"' in out, out
    assert "TypedFunction[[text: str, *, strict: bool =], typed_usage.Invoice]" in out, out
    assert out.count("error:") == 2, out
    assert 'Argument 1 to "__call__" of "TypedFunction" has incompatible type "int"' in out, out
    assert (
        'Argument "strict" to "__call__" of "TypedFunction" has incompatible type "int"' in out
    ), out

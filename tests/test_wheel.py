"""`pip wheel .` yields a wheel that holds the compiled Cython modules and their stubs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_holds_the_compiled_extension(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("typedgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("_regex", "_automaton", "_trie", "_fsm", "_grammar"):
        assert any(n.startswith(f"typedgen/{module}.") and n.endswith(".so") for n in names), names
        assert f"typedgen/{module}.pyi" in names
    assert "typedgen/py.typed" in names
    assert not any(n.endswith(".c") for n in names)

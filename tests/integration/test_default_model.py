"""End-to-end checks on the embedded default model (SmolLM2-135M-Instruct), and the CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import typedgen

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

vllm = pytest.importorskip("vllm")

ROOT = Path(__file__).resolve().parents[2]


def test_docs_extraction_example(default_model: Any, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "extract_invoice", ROOT / "docs" / "examples" / "extract_invoice.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    sys.modules["extract_invoice"] = example
    spec.loader.exec_module(example)
    invoice = example.main(default_model)
    assert isinstance(invoice, example.Invoice)
    assert invoice.currency in ("EUR", "USD", "GBP")
    assert "Invoice(" in capsys.readouterr().out


def test_default_model_constrained_sampling(default_model: Any) -> None:
    params = vllm.SamplingParams(n=4, temperature=1.0, max_tokens=24, seed=0)
    dates = typedgen.generate.regex(default_model, r"[0-9]{4}-[0-9]{2}-[0-9]{2}")(
        "The date of the moon landing is ", sampling_params=params
    )
    assert all(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", d) for d in dates)
    answers = typedgen.generate.choice(default_model, ["yes", "no"])(
        "Is the sky blue? Answer: ", sampling_params=params
    )
    assert set(answers) <= {"yes", "no"}


def test_cli_extract_prints_json_lines(tiny_model_dir: Path, tmp_path: Path) -> None:
    files = []
    for i, text in enumerate(["Alice is 30.", "Bob is 41 and likes tea."]):
        files.append(tmp_path / f"{i}.txt")
        files[-1].write_text(text)
    (tmp_path / "cli_types.py").write_text(
        "import dataclasses\nfrom typing import Annotated, Literal\nimport pydantic\n"
        "@dataclasses.dataclass\nclass Person:\n"
        "    name: Annotated[str, pydantic.StringConstraints(max_length=8)]\n"
        "    age: Annotated[int, pydantic.Field(ge=0, le=120)]\n"
        "    likes: Literal['tea', 'coffee']\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "typedgen",
            "extract",
            "--type",
            "cli_types:Person",
            "--model",
            str(tiny_model_dir),
            "--max-tokens",
            "200",
            "--enforce-eager",
            *map(str, files),
        ],
        env={**os.environ, "PYTHONPATH": str(tmp_path), "VLLM_ENABLE_V1_MULTIPROCESSING": "0"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(row["id"] for row in rows) == sorted(map(str, files))
    for row in rows:
        assert row["error"] is None, row
        person = row["record"]
        assert set(person) == {"name", "age", "likes"} and len(person["name"]) <= 8

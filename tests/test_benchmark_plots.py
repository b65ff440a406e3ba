"""benchmarks/plot.py draws the documentation's figures from the benchmarks' JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_plot_reads_benchmark_json_and_writes_pngs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    engines = {
        "typedgen": {"ttfm": [1e-4], "mask": [2e-6, 5e-6, 1e-4]},
        "xgrammar": {"ttfm": [0.3], "mask": [3e-6]},
    }
    fsm = {"seconds": {"gpt2-50k": {"vocab_size": 50257, "regexes": 1, "engines": engines}}}
    schemas = {
        "subsets": {
            "Github_easy": {
                "typedgen": {"schemas": 10, "compiled": 9, "sound": 9, "ttfm": [0.002]},
                "xgrammar": {"schemas": 10, "compiled": 10, "sound": 7, "ttfm": [0.05]},
            }
        }
    }
    (tmp_path / "fsm.json").write_text(json.dumps(fsm))
    (tmp_path / "schemas.json").write_text(json.dumps(schemas))
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "plot.py"),
            "--fsm",
            str(tmp_path / "fsm.json"),
            "--schemas",
            str(tmp_path / "schemas.json"),
            "--out",
            str(tmp_path / "images"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in ("mask-times.png", "schema-coverage.png"):
        assert (tmp_path / "images" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

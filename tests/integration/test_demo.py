"""``python -m typedgen demo`` (what ``make demo`` runs) prints the text and the typed result,
and keeps vLLM's logs out of the way unless asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

pytest.importorskip("vllm")


def test_the_demo_prints_the_text_and_the_result_without_logs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_LOGGING", "TYPEDGEN_V"))}
    done = subprocess.run(
        [sys.executable, "-m", "typedgen", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout.splitlines()
    assert out[0] == "Text:" and "  INVOICE No. 2024-117" in out
    assert "Invoice:" in out
    result = out[out.index("Invoice:") + 1 :]
    names = [line.split(":")[0].strip() for line in result]
    assert names == ["invoice_number", "vendor", "due_date", "total_amount", "currency"]
    assert any(line.startswith("  due_date: datetime.date(") for line in result)
    # Progress lines only: no vLLM log records (" INFO ", " WARNING "), no warnings.
    err = done.stderr.splitlines()
    assert not [line for line in err if " INFO " in line or "WARNING" in line or "Warning" in line]
    assert len(err) <= 4, done.stderr

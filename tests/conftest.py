"""Suite-wide fixtures and capability-based skipping of the registered markers.

``vllm`` tests run when vLLM imports; ``gpu`` tests when CUDA is available; ``slow`` tests run
unless ``TYPEDGEN_SKIP_SLOW=1``. Skips are decided by capability, never by test names.

``TYPEDGEN_REQUIRE=vllm`` (what ``.ci/run`` sets) makes a missing capability a failure instead
of a skip: the session stops at once when vLLM does not import, and a ``vllm`` test, or a
module of ``tests/integration``, that skips (a tokenizer or the default model missing, an
``importorskip``) fails with the skip's reason. Only the skips of the ``gpu`` marker (no CUDA)
and the ``slow`` marker (``TYPEDGEN_SKIP_SLOW=1``) stay skips.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

# The engine runs in-process for most tests (starts in seconds); tests of the default
# multi-process mode set this to "1" in their own subprocess.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest_plugins = ["pytester"]

_CAPABILITIES = frozenset({"vllm"})
REQUIRE = frozenset(
    c.strip() for c in os.environ.get("TYPEDGEN_REQUIRE", "").split(",") if c.strip()
)


@cache
def _has_vllm() -> bool:
    return importlib.util.find_spec("vllm") is not None


@cache
def _has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_vllm = pytest.mark.skip(reason="vLLM is not installed")
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU on this machine")
    skip_slow = pytest.mark.skip(reason="TYPEDGEN_SKIP_SLOW=1")
    for item in items:
        if "vllm" in item.keywords and not _has_vllm():
            item.add_marker(skip_vllm)
        if "gpu" in item.keywords and not _has_cuda():
            item.add_marker(skip_gpu)
        if "slow" in item.keywords and _skip_slow():
            item.add_marker(skip_slow)


def _skip_slow() -> bool:
    return os.environ.get("TYPEDGEN_SKIP_SLOW") == "1"


def pytest_configure(config: pytest.Config) -> None:
    unknown = sorted(REQUIRE - _CAPABILITIES)
    if unknown:
        raise pytest.UsageError(
            f"TYPEDGEN_REQUIRE: unknown capabilities {unknown}; known: {sorted(_CAPABILITIES)}"
        )
    if "vllm" in REQUIRE and not _has_vllm():
        raise pytest.UsageError("TYPEDGEN_REQUIRE=vllm, but vLLM is not installed")


def _in_integration(path: Path) -> bool:
    return "integration" in path.parts


def _required(report: pytest.CollectReport | pytest.TestReport) -> pytest.TestReport | Any:
    """``report`` turned into a failure that names the skip's reason."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    report.outcome = "failed"
    report.longrepr = f"TYPEDGEN_REQUIRE=vllm, but this was skipped: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if (
        "vllm" in REQUIRE
        and report.skipped
        and not hasattr(report, "wasxfail")
        and ("vllm" in item.keywords or _in_integration(item.path))
        and not ("gpu" in item.keywords and not _has_cuda())
        and not ("slow" in item.keywords and _skip_slow())
    ):
        return _required(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    if "vllm" in REQUIRE and report.skipped and _in_integration(collector.path):
        return _required(report)
    return report

"""Suite-wide fixtures and capability-based skipping of the registered markers.

``vllm`` tests run when vLLM imports; ``gpu`` tests when CUDA is available; ``slow`` tests run
unless ``TYPEDGEN_SKIP_SLOW=1``. Skips are decided by capability, never by test names.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache

import pytest

# The engine runs in-process for most tests (starts in seconds); tests of the default
# multi-process mode set this to "1" in their own subprocess.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
        if "slow" in item.keywords and os.environ.get("TYPEDGEN_SKIP_SLOW") == "1":
            item.add_marker(skip_slow)

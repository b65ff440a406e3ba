"""The fused CUDA kernel that applies int32 token bitmasks to logits rows (imported on CUDA only).

One program handles ``BLOCK`` vocabulary columns of one masked row: it loads the bitmask words,
tests each column's bit and stores ``-inf`` where the bit is clear. Allowed logits are neither
read nor written.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

__all__ = ["apply_bitmask_kernel"]

_BLOCK = 2048


@triton.jit  # type: ignore[untyped-decorator]
def _bitmask_kernel(  # noqa: PLR0917 (a kernel takes its arguments by position)
    logits_ptr: Any,
    logits_stride: Any,
    bitmask_ptr: Any,
    bitmask_stride: Any,
    rows_ptr: Any,
    vocab_size: Any,
    BLOCK: tl.constexpr,  # noqa: N803
) -> None:
    k = tl.program_id(0)
    block = tl.program_id(1)
    row = tl.load(rows_ptr + k)
    cols = block * BLOCK + tl.arange(0, BLOCK)
    inside = cols < vocab_size
    words = tl.load(bitmask_ptr + k * bitmask_stride + cols // 32, mask=inside, other=0)
    blocked = ((words >> (cols % 32)) & 1) == 0
    tl.store(logits_ptr + row * logits_stride + cols, float("-inf"), mask=inside & blocked)


def apply_bitmask_kernel(logits: torch.Tensor, bitmask: torch.Tensor, rows: torch.Tensor) -> None:
    """Set ``logits[rows[k], t] = -inf`` wherever bit ``t`` of ``bitmask[k]`` is clear."""
    n = rows.shape[0]
    vocab = logits.shape[1]
    grid = (n, triton.cdiv(vocab, _BLOCK))
    _bitmask_kernel[grid](
        logits, logits.stride(0), bitmask, bitmask.stride(0), rows, vocab, BLOCK=_BLOCK
    )

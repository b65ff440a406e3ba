"""Token bitmasks as torch tensors: allocating them and applying them to logits, in place.

A bitmask row has ``(vocab + 31) // 32`` int32 words; bit ``i`` of word ``w`` set means token
``w * 32 + i`` is allowed. Applying it sets every disallowed logit to ``-inf`` and leaves the
allowed ones untouched (so sampling among allowed tokens is not biased)::

    for k, row in enumerate(rows):
        for t in range(vocab):
            if not (bitmask[k, t // 32] >> (t % 32)) & 1:
                logits[row, t] = -inf

On CPU the bits are unpacked with vectorised numpy operations on the logits' memory; on CUDA
one fused Triton kernel launch masks the batch (:mod:`typedgen.torch._triton`).
:class:`MaskApplier` owns preallocated buffers for an engine's every step (on CUDA a pinned
host bitmask copied without blocking).

Logits must not contain ``+inf`` (on CPU a masked ``+inf`` would become NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["MaskApplier", "allocate_token_bitmask", "apply_token_bitmask_inplace"]


# Rows unpacked at a time on CPU: bounds the scratch buffer (rows x vocab int32).
_CPU_CHUNK = 8
# The bit pattern of float32 -inf, as an int32.
_NEG_INF_BITS = np.int32(-8388608)


def allocate_token_bitmask(
    batch_size: int, vocab_size: int, *, pin_memory: bool = False
) -> torch.Tensor:
    """A CPU int32 tensor of shape ``(batch_size, (vocab_size + 31) // 32)`` with every bit set
    (every token allowed), for :meth:`typedgen.Matcher.fill_next_token_bitmask` and
    :meth:`typedgen.Guide.fill_bitmask`; pinned when ``pin_memory`` (for a fast copy to a
    GPU)."""
    shape = (batch_size, (vocab_size + 31) // 32)
    return torch.full(shape, -1, dtype=torch.int32, pin_memory=pin_memory)


def apply_token_bitmask_inplace(
    logits: torch.Tensor, bitmask: torch.Tensor, *, indices: Sequence[int] | None = None
) -> None:
    """Mask ``logits`` (``(batch, vocab)``, on CPU or CUDA) with ``bitmask`` (int32, one row per
    logits row, on either device) in place: ``logits[i, t] = -inf`` wherever bit ``t`` of
    ``bitmask[i]`` is clear, for every row ``i`` of ``indices`` (default: every row); other
    logits keep their values. Tokens from ``bitmask.shape[1] * 32`` on are left as they are."""
    rows = sorted(set(range(logits.shape[0]) if indices is None else indices))
    if not rows:
        return
    if rows[0] < 0 or rows[-1] >= min(logits.shape[0], bitmask.shape[0]):
        message = f"rows {rows[0]}..{rows[-1]} out of range for logits {tuple(logits.shape)}"
        raise IndexError(f"{message} and bitmask {tuple(bitmask.shape)}")
    selected = bitmask[rows]  # bitmask row k of ``selected`` masks logits row rows[k]
    vocab = min(logits.shape[1], bitmask.shape[1] * 32)
    if logits.device.type == "cuda":
        from typedgen.torch._triton import apply_bitmask_kernel

        device_rows = torch.tensor(rows, dtype=torch.int32, device=logits.device)
        apply_bitmask_kernel(
            logits[:, :vocab], selected.to(logits.device, non_blocking=True), device_rows
        )
    elif logits.dtype == torch.float32:
        scratch = np.empty((_CPU_CHUNK, vocab), dtype=np.int32)
        _apply_cpu(logits[:, :vocab].numpy(), selected.cpu().numpy(), rows, scratch)
    else:  # numpy has no bfloat16: a boolean mask through torch
        as_bytes = selected.cpu().numpy().view(np.uint8)
        bits = np.unpackbits(as_bytes, axis=1, count=vocab, bitorder="little")
        blocked = torch.from_numpy(bits == 0)
        logits[rows, :vocab] = logits[rows, :vocab].masked_fill(blocked, float("-inf"))


class MaskApplier:
    """Applies bitmasks for up to ``max_rows`` rows of logits of width ``vocab_size``, with
    buffers allocated once.

    ``host_bitmask`` is the CPU buffer the caller fills (rows ``0..n-1`` for the ``n`` rows
    passed to :meth:`apply`), ``host_bitmask_np`` a numpy view of it; it is pinned when
    ``pin_memory`` so the copy to a GPU overlaps.
    """

    def __init__(
        self, *, vocab_size: int, max_rows: int, device: torch.device, pin_memory: bool
    ) -> None:
        self.vocab_size = vocab_size
        self.words = (vocab_size + 31) // 32
        self.device = device
        self._cuda = device.type == "cuda"
        if self._cuda:
            # One pinned buffer for the bitmask rows and, right after the rows used in a step,
            # their row indices: a step is one host-to-device copy.
            self._host_flat = torch.zeros(
                max_rows * self.words + max_rows, dtype=torch.int32, pin_memory=pin_memory
            )
            self._host_flat_np = self._host_flat.numpy()
            self.host_bitmask = self._host_flat[: max_rows * self.words].view(max_rows, self.words)
            self._device_flat = torch.empty_like(self._host_flat, device=device)
            self._copied = torch.cuda.Event()  # type: ignore[no-untyped-call]
        else:
            self.host_bitmask = torch.zeros((max_rows, self.words), dtype=torch.int32)
            self._scratch = np.empty((_CPU_CHUNK, self.words * 32), dtype=np.int32)
        self.host_bitmask_np = self.host_bitmask.numpy()

    def host_bitmask_ready(self) -> None:
        """Wait until the previous step's non-blocking copy has read ``host_bitmask``: call
        before writing into it (a no-op on CPU, and in practice on CUDA, where vLLM has
        synchronised on the previous step's sampled tokens by then)."""
        if self._cuda:
            self._copied.synchronize()

    def apply(self, logits: torch.Tensor, rows: list[int]) -> None:
        """Mask ``logits[rows[k]]`` with ``host_bitmask[k]`` for every ``k``, in place.

        ``rows`` must be distinct and sorted ascending.
        """
        if not rows:
            return
        if self._cuda:
            self._apply_cuda(logits, rows)
        else:
            _apply_cpu(logits.numpy(), self.host_bitmask_np, rows, self._scratch)

    def _apply_cuda(self, logits: torch.Tensor, rows: list[int]) -> None:
        from typedgen.torch._triton import apply_bitmask_kernel

        n = len(rows)
        used = n * self.words
        # Row n of the host bitmask is not used in this step: its start holds the row indices.
        self._host_flat_np[used : used + n] = rows
        device = self._device_flat[: used + n]
        device.copy_(self._host_flat[: used + n], non_blocking=True)
        self._copied.record()
        apply_bitmask_kernel(logits, device[:used].view(n, self.words), device[used:])


def _apply_cpu(
    values: npt.NDArray[np.float32],
    bitmask: npt.NDArray[np.int32],
    rows: list[int],
    scratch: npt.NDArray[np.int32],
) -> None:
    """Mask ``values[rows[k]]`` with ``bitmask[k]`` in place (``rows`` distinct, ascending;
    ``scratch`` at least ``_CPU_CHUNK`` rows of the vocabulary's width).

    Branch-free: each bit b becomes the int32 (b - 1) & bits(-inf), i.e. 0.0 or -inf as float32,
    which is added to the logit. Vectorises well and does not depend on how the allowed tokens
    are spread (a masked store mispredicts on scattered masks)."""
    vocab = values.shape[1]
    as_bytes = bitmask.view(np.uint8)
    for start in range(0, len(rows), _CPU_CHUNK):
        chunk = rows[start : start + _CPU_CHUNK]
        n = len(chunk)
        bits = np.unpackbits(as_bytes[start : start + n], axis=1, count=vocab, bitorder="little")
        additive = scratch[:n, :vocab]
        np.subtract(bits, np.int32(1), out=additive, dtype=np.int32, casting="unsafe")
        np.bitwise_and(additive, _NEG_INF_BITS, out=additive)
        first, last = chunk[0], chunk[-1]
        if last - first == n - 1:  # consecutive rows: a view, updated in place
            target = values[first : last + 1]
            np.add(target, additive.view(np.float32), out=target)
        else:
            values[chunk] += additive.view(np.float32)

"""Applying token bitmasks to rows of a logits tensor, in place.

A bitmask row has ``(vocab + 31) // 32`` int32 words; bit ``i`` of word ``w`` set means token
``w * 32 + i`` is allowed. Applying it sets every disallowed logit to ``-inf`` and leaves the
allowed ones untouched (so sampling among allowed tokens is not biased)::

    for k, row in enumerate(rows):
        for t in range(vocab):
            if not (bitmask[k, t // 32] >> (t % 32)) & 1:
                logits[row, t] = -inf

:class:`MaskApplier` owns the preallocated buffers. On CPU the bits are unpacked with vectorised
torch operations; on CUDA the host bitmask is copied to the device (pinned memory, non-blocking)
and applied by one fused Triton kernel launch for the whole batch.
"""

from __future__ import annotations

import torch

__all__ = ["MaskApplier"]


class MaskApplier:
    """Applies bitmasks for up to ``max_rows`` rows of logits of width ``vocab_size``.

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
        self.host_bitmask = torch.zeros(
            (max_rows, self.words), dtype=torch.int32, pin_memory=pin_memory and self._cuda
        )
        self.host_bitmask_np = self.host_bitmask.numpy()
        self._host_rows = torch.zeros(max_rows, dtype=torch.int64, pin_memory=self._cuda)
        if self._cuda:
            self._device_bitmask = torch.empty_like(self.host_bitmask, device=device)
            self._device_rows = torch.empty_like(self._host_rows, device=device)
        else:
            self._shifts = torch.arange(32, dtype=torch.int32)
            self._unpacked = torch.empty((max_rows, self.words, 32), dtype=torch.int32)

    def apply(self, logits: torch.Tensor, rows: list[int]) -> None:
        """Mask ``logits[rows[k]]`` with ``host_bitmask[k]`` for every ``k``, in place.

        ``rows`` must be distinct and sorted ascending.
        """
        n = len(rows)
        if n == 0:
            return
        if self._cuda:
            self._apply_cuda(logits, rows)
            return
        # CPU: unpack the words into 0/1 ints, then one masked fill over the rows.
        unpacked = self._unpacked[:n]
        torch.bitwise_right_shift(self.host_bitmask[:n, :, None], self._shifts, out=unpacked)
        unpacked.bitwise_and_(1)
        blocked = unpacked.view(n, -1)[:, : logits.shape[1]] == 0
        if rows[-1] == n - 1:  # rows are 0..n-1: a view of logits, masked in place
            logits[:n].masked_fill_(blocked, float("-inf"))
        else:
            index = torch.tensor(rows, dtype=torch.int64)
            logits.index_copy_(
                0, index, logits.index_select(0, index).masked_fill_(blocked, float("-inf"))
            )

    def _apply_cuda(self, logits: torch.Tensor, rows: list[int]) -> None:
        from typedgen.processors._triton import apply_bitmask_kernel

        n = len(rows)
        self._host_rows[:n] = torch.tensor(rows, dtype=torch.int64)
        self._device_bitmask[:n].copy_(self.host_bitmask[:n], non_blocking=True)
        self._device_rows[:n].copy_(self._host_rows[:n], non_blocking=True)
        apply_bitmask_kernel(logits, self._device_bitmask[:n], self._device_rows[:n])

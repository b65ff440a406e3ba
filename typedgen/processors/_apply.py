"""Applying token bitmasks to rows of a logits tensor, in place.

A bitmask row has ``(vocab + 31) // 32`` int32 words; bit ``i`` of word ``w`` set means token
``w * 32 + i`` is allowed. Applying it sets every disallowed logit to ``-inf`` and leaves the
allowed ones untouched (so sampling among allowed tokens is not biased)::

    for k, row in enumerate(rows):
        for t in range(vocab):
            if not (bitmask[k, t // 32] >> (t % 32)) & 1:
                logits[row, t] = -inf

:class:`MaskApplier` owns the preallocated buffers. On CPU the bits are unpacked with vectorised
numpy operations on the logits' memory; on CUDA the host bitmask is copied to the device
(pinned memory, non-blocking) and applied by one fused Triton kernel launch for the batch.

Logits must not contain ``+inf`` (on CPU a masked ``+inf`` would become NaN).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["MaskApplier"]


# Rows unpacked at a time on CPU: bounds the scratch buffer (rows x vocab int32).
_CPU_CHUNK = 8
# The bit pattern of float32 -inf, as an int32.
_NEG_INF_BITS = np.int32(-8388608)


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
            self._apply_cpu(logits, rows)

    def _apply_cpu(self, logits: torch.Tensor, rows: list[int]) -> None:
        # Branch-free: each bit b becomes the int32 (b - 1) & bits(-inf), i.e. 0.0 or -inf as
        # float32, which is added to the logit. Vectorises well and does not depend on how the
        # allowed tokens are spread (a masked store mispredicts on scattered masks).
        values = logits.numpy()
        vocab = values.shape[1]
        as_bytes = self.host_bitmask_np.view(np.uint8)
        for start in range(0, len(rows), _CPU_CHUNK):
            chunk = rows[start : start + _CPU_CHUNK]
            n = len(chunk)
            bits = np.unpackbits(
                as_bytes[start : start + n], axis=1, count=vocab, bitorder="little"
            )
            additive = self._scratch[:n, :vocab]
            np.subtract(bits, np.int32(1), out=additive, dtype=np.int32, casting="unsafe")
            np.bitwise_and(additive, _NEG_INF_BITS, out=additive)
            first, last = chunk[0], chunk[-1]
            if last - first == n - 1:  # consecutive rows: a view, updated in place
                target = values[first : last + 1]
                np.add(target, additive.view(np.float32), out=target)
            else:
                values[chunk] += additive.view(np.float32)

    def _apply_cuda(self, logits: torch.Tensor, rows: list[int]) -> None:
        from typedgen.processors._triton import apply_bitmask_kernel

        n = len(rows)
        used = n * self.words
        # Row n of the host bitmask is not used in this step: its start holds the row indices.
        self._host_flat_np[used : used + n] = rows
        device = self._device_flat[: used + n]
        device.copy_(self._host_flat[: used + n], non_blocking=True)
        self._copied.record()
        apply_bitmask_kernel(logits, device[:used].view(n, self.words), device[used:])

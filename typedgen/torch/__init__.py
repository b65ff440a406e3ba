"""Token bitmasks as torch tensors (opt-in: this module imports torch; ``import typedgen`` does
not).

Allocate a bitmask, let each request's :class:`~typedgen.Matcher` fill its row, and mask the
logits before sampling::

    bitmask = allocate_token_bitmask(batch_size, guide.vocab_size)
    needs = [m.fill_next_token_bitmask(bitmask, i) for i, m in enumerate(matchers)]
    apply_token_bitmask_inplace(logits, bitmask, indices=[i for i, n in enumerate(needs) if n])

:class:`MaskApplier` is the same work with buffers allocated once, for an engine's every step
(typedgen's vLLM processor uses it).
"""

from typedgen.torch._bitmask import MaskApplier, allocate_token_bitmask, apply_token_bitmask_inplace

__all__ = ["MaskApplier", "allocate_token_bitmask", "apply_token_bitmask_inplace"]

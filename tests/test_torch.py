"""typedgen.torch: allocating bitmasks and applying them to logits; every path agrees with the
reference loop of the bitmask layout (``typedgen.testing.bitmask_to_bool``)."""

from __future__ import annotations

import numpy as np
import pytest

from typedgen.testing import bitmask_to_bool, bool_to_bitmask

torch = pytest.importorskip("torch")

from typedgen.torch import (  # noqa: E402
    MaskApplier,
    allocate_token_bitmask,
    apply_token_bitmask_inplace,
)


def reference(logits: np.ndarray, allowed: np.ndarray, rows: list[int]) -> np.ndarray:
    out = logits.copy()
    for k, row in enumerate(rows):
        out[row, ~allowed[k]] = -np.inf
    return out


def devices() -> list[str]:
    return ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]  # type: ignore[list-item]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("vocab", [1, 31, 32, 33, 1000, 49152, 131072])
@pytest.mark.parametrize(
    "rows",
    [[0], [0, 1, 2], [1, 3, 4], list(range(10)), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 19]],
)
def test_matches_reference(device: str, vocab: int, rows: list[int]) -> None:
    rng = np.random.default_rng(vocab * 31 + len(rows))
    batch = rows[-1] + 2
    allowed = rng.random((len(rows), vocab)) < rng.choice([0.001, 0.5, 0.999])
    allowed[:, rng.integers(vocab)] = True
    logits = rng.standard_normal((batch, vocab)).astype(np.float32)
    logits[0, 0] = -np.inf  # already masked stays masked
    applier = MaskApplier(
        vocab_size=vocab, max_rows=32, device=torch.device(device), pin_memory=device == "cuda"
    )
    applier.host_bitmask_np[: len(rows)] = bool_to_bitmask(allowed)
    tensor = torch.from_numpy(logits.copy()).to(device)
    applier.apply(tensor, rows)
    np.testing.assert_array_equal(tensor.cpu().numpy(), reference(logits, allowed, rows))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("indices", [None, [0], [3, 1], [2, 0, 4]])
def test_apply_token_bitmask_inplace_masks_the_rows_it_is_given(
    device: str, dtype: str, indices: list[int] | None
) -> None:
    rng = np.random.default_rng(len(indices or []))
    vocab, batch = 1000, 5
    allowed = rng.random((batch, vocab)) < 0.3
    bitmask = torch.from_numpy(bool_to_bitmask(allowed))
    logits = torch.from_numpy(rng.standard_normal((batch, vocab)).astype(np.float32))
    rows = list(range(batch)) if indices is None else sorted(indices)
    expected = logits.clone()
    for row in rows:
        expected[row, torch.from_numpy(~allowed[row])] = float("-inf")
    tensor = logits.to(device=device, dtype=getattr(torch, dtype))
    apply_token_bitmask_inplace(tensor, bitmask, indices=indices)
    assert torch.equal(tensor.cpu(), expected.to(getattr(torch, dtype)))


def test_apply_token_bitmask_inplace_refuses_rows_outside_the_batch() -> None:
    with pytest.raises(IndexError, match="out of range"):
        apply_token_bitmask_inplace(torch.zeros(2, 64), allocate_token_bitmask(2, 64), indices=[2])


def test_allocate_token_bitmask_allows_every_token() -> None:
    bitmask = allocate_token_bitmask(3, 70)
    assert bitmask.shape == (3, 3) and bitmask.dtype == torch.int32
    assert bitmask_to_bool(bitmask.numpy(), 70).all()
    logits = torch.randn(3, 70)
    expected = logits.clone()
    apply_token_bitmask_inplace(logits, bitmask)
    assert torch.equal(logits, expected)


def test_bitmask_layout_round_trip() -> None:
    allowed = np.zeros((1, 70), dtype=bool)
    allowed[0, [0, 31, 32, 69]] = True
    bitmask = bool_to_bitmask(allowed)
    assert np.array_equal(bitmask_to_bool(bitmask, 70), allowed)


def test_no_rows_is_a_no_op() -> None:
    applier = MaskApplier(vocab_size=10, max_rows=2, device=torch.device("cpu"), pin_memory=False)
    logits = torch.zeros(2, 10)
    applier.apply(logits, [])
    assert bool((logits == 0).all())


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_cuda_half_precision_logits(dtype: str) -> None:
    rng = np.random.default_rng(7)
    vocab, rows = 49152, [0, 2, 5]
    allowed = rng.random((len(rows), vocab)) < 0.3
    applier = MaskApplier(
        vocab_size=vocab, max_rows=8, device=torch.device("cuda"), pin_memory=True
    )
    applier.host_bitmask_np[: len(rows)] = bool_to_bitmask(allowed)
    logits = torch.randn(6, vocab, device="cuda", dtype=getattr(torch, dtype))
    expected = logits.clone()
    for k, row in enumerate(rows):
        expected[row, torch.from_numpy(~allowed[k]).cuda()] = float("-inf")
    applier.apply(logits, rows)
    assert torch.equal(logits, expected)


@pytest.mark.gpu
def test_cuda_consecutive_steps_reuse_the_pinned_buffer() -> None:
    """Step after step, the host buffer is rewritten while earlier copies may be in flight;
    each step must mask with its own bitmask."""
    rng = np.random.default_rng(11)
    vocab = 131072
    applier = MaskApplier(
        vocab_size=vocab, max_rows=4, device=torch.device("cuda"), pin_memory=True
    )
    for _ in range(20):
        allowed = rng.random((4, vocab)) < 0.5
        applier.host_bitmask_ready()
        applier.host_bitmask_np[:4] = bool_to_bitmask(allowed)
        logits = torch.zeros(4, vocab, device="cuda")
        applier.apply(logits, [0, 1, 2, 3])
        np.testing.assert_array_equal(torch.isfinite(logits).cpu().numpy(), allowed)

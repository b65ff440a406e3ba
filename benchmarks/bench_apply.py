"""Applying token bitmasks to logits: typedgen's ``MaskApplier`` against plain torch ops and
xgrammar's kernel, same run.

For each batch size and share of allowed tokens, a ``--vocab``-wide float32 logits tensor on the
device (CUDA when present, else CPU) gets one random bitmask row per sequence. Median of
``--repeat`` calls after warm-up, in µs:

- **typedgen**: ``MaskApplier.apply`` as the logits processor calls it: on CUDA one copy of the
  pinned host bitmask (and row indices) to the device and one Triton kernel; on CPU numpy unpacks
  the bits into the logits.
- **kernel** (CUDA): the Triton kernel alone, bitmask already on the device.
- **copy** (CUDA): the host-to-device copy of the bitmask alone (pinned, non-blocking).
- **torch**: unpacking with plain torch ops (shift, and, ``masked_fill_``), bitmask on the device.
- **xgrammar**: ``xgrammar.apply_token_bitmask_inplace`` (when installed), bitmask on the device.

On CUDA each figure is given twice: **wall** (host time of one call until the device is done:
what a decoding step pays when it waits) and **gpu** (device time alone, from CUDA events
recorded while the device is kept busy, so launch costs on the host are not counted).

    .venv/bin/python benchmarks/bench_apply.py [--vocab 131072] [--batches 1 8 64 512]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from typedgen.testing import bool_to_bitmask
from typedgen.torch import MaskApplier


def wall_us(call: Callable[[], object], *, repeat: int, cuda: bool) -> float:
    """Median host µs of one ``call`` (CUDA: until the device is done)."""
    samples = []
    for _ in range(repeat):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if cuda:
            torch.cuda.synchronize()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def gpu_us(call: Callable[[], object], *, repeat: int) -> float:
    """Median device µs of one ``call``: the stream is kept busy by a sleep kernel while the
    events and the call are queued, so the events time the device work alone."""
    samples = []
    for _ in range(repeat):
        start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        torch.cuda._sleep(2_000_000)
        start.record()
        call()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples) * 1e3


def torch_unpack(logits: torch.Tensor, bitmask: torch.Tensor, rows: torch.Tensor) -> None:
    """The plain-torch way: expand every word into 32 booleans and fill the blocked logits."""
    vocab = logits.shape[1]
    shifts = torch.arange(32, device=bitmask.device, dtype=torch.int32)
    bits = ((bitmask.unsqueeze(-1) >> shifts) & 1).reshape(bitmask.shape[0], -1)[:, :vocab]
    logits[rows] = logits[rows].masked_fill(bits == 0, float("-inf"))


def measure(
    batch: int, allowed: float, *, vocab: int, repeat: int, device: torch.device, xgrammar: bool
) -> dict[str, float]:
    """µs per call of each way of masking ``batch`` rows with ``allowed`` of the tokens allowed."""
    cuda = device.type == "cuda"
    rng = np.random.default_rng(batch)
    applier = MaskApplier(vocab_size=vocab, max_rows=batch, device=device, pin_memory=cuda)
    applier.host_bitmask_np[:] = bool_to_bitmask(rng.random((batch, vocab)) < allowed)
    logits = torch.randn(batch, vocab, device=device)
    rows = list(range(batch))
    device_bitmask = applier.host_bitmask[:batch].to(device)
    device_rows = torch.tensor(rows, device=device)
    calls: dict[str, Callable[[], object]] = {"typedgen": lambda: applier.apply(logits, rows)}
    if cuda:
        from typedgen.torch._triton import apply_bitmask_kernel

        calls["kernel"] = lambda: apply_bitmask_kernel(logits, device_bitmask, device_rows)
        calls["copy"] = lambda: device_bitmask.copy_(
            applier.host_bitmask[:batch], non_blocking=True
        )
    calls["torch"] = lambda: torch_unpack(logits, device_bitmask, device_rows)
    if xgrammar:
        import xgrammar as xgr

        calls["xgrammar"] = lambda: xgr.apply_token_bitmask_inplace(logits, device_bitmask)
    results = {}
    for name, call in calls.items():
        for _ in range(10):
            call()
        if cuda:
            results[f"{name} wall"] = wall_us(call, repeat=repeat, cuda=True)
            results[f"{name} gpu"] = gpu_us(call, repeat=repeat)
        else:
            results[name] = wall_us(call, repeat=repeat, cuda=False)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=131072)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 512])
    parser.add_argument("--allowed", type=float, nargs="+", default=[0.01, 0.5])
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    xgrammar = importlib.util.find_spec("xgrammar") is not None
    print(f"device: {name}; vocab {args.vocab}; median µs per call over {args.repeat} calls\n")
    header_done = False
    for allowed in args.allowed:
        for batch in args.batches:
            results = measure(
                batch,
                allowed,
                vocab=args.vocab,
                repeat=args.repeat,
                device=device,
                xgrammar=xgrammar,
            )
            if not header_done:
                columns = ["allowed", "batch", *results]
                print("| " + " | ".join(columns) + " |")
                print("|" + "---|" * len(columns))
                header_done = True
            cells = [f"{allowed:.1%}", str(batch), *(f"{v:.1f}" for v in results.values())]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

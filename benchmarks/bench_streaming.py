"""Streaming typed functions on the default model: how soon the first partial instance comes,
and what partial validation costs per delta against the time of a token.

For each of the first ``--cases`` extraction cases (``extraction_data.py``), the case's typed
function (greedy, ``--max-tokens``) is streamed (``extract.stream(text)``) after one warm-up
stream (engine and constraint caches warm), then called once without streaming. Reported per
case and in total:

* **first chunk** / **first instance**: seconds from the call to the first chunk, and to the
  first chunk whose ``value`` (a partial instance validated in pydantic's partial mode) is set,
  with the number of deltas (engine steps, one token each) it took;
* **partial ms/delta**: time inside ``Generator.partial`` (jiter's partial JSON read plus
  pydantic's partial validation), per delta; measured by wrapping that method in this process;
* **token ms**: wall time of the stream divided by its deltas; **overhead**: partial time as a
  share of the stream's wall time;
* **stream / call**: the stream's wall time against the same call not streamed (same output,
  checked).

Run: ``.venv/bin/python benchmarks/bench_streaming.py [--cases 6] [--max-tokens 128]``. Prints
a Markdown table. Times on a shared CPU are noisy; the shares and ratios are the robust figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _engines
from extraction_data import CASES


class Clock:
    """Total time and calls of a wrapped function."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        return timed


def measure(function: Any, text: str, clock: Clock) -> dict[str, Any]:
    """One stream of ``function(text)``, then the same call not streamed."""
    clock.seconds, clock.calls = 0.0, 0
    started = time.perf_counter()
    first_chunk = first_instance = None
    deltas_to_instance = 0
    deltas = 0
    last: Any = None
    for chunk in function.stream(text):
        now = time.perf_counter() - started
        deltas += 1
        if first_chunk is None:
            first_chunk = now
        if first_instance is None and chunk.value is not None:
            first_instance, deltas_to_instance = now, deltas
        last = chunk
    streamed = time.perf_counter() - started
    started = time.perf_counter()
    called = function(text)
    call_seconds = time.perf_counter() - started
    return {
        "first_chunk": first_chunk,
        "first_instance": first_instance,
        "deltas_to_instance": deltas_to_instance,
        "deltas": deltas,
        "stream_s": streamed,
        "call_s": call_seconds,
        "partial_s": clock.seconds,
        "partial_calls": clock.calls,
        "same": last is not None and last.value == called,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    _engines.configure_environment()
    from typedgen.generate import Generator

    clock = Clock()
    Generator.partial = clock.wrap(Generator.partial)  # type: ignore[method-assign]
    model = _engines.build_model("xgrammar", max_num_seqs=1, compact=True)
    cases = CASES[: args.cases]
    functions = [_engines.typed_function(model, c, max_tokens=args.max_tokens) for c in cases]
    list(functions[0].stream(cases[0].text))  # warm-up: engine, caches
    rows = []
    results = []
    for function, case in zip(functions, cases, strict=True):
        r = measure(function, case.text, clock)
        results.append(r)
        token_ms = 1000 * r["stream_s"] / r["deltas"]
        rows.append(
            [
                case.name,
                r["deltas"],
                f"{r['first_chunk']:.2f}",
                "-" if r["first_instance"] is None else f"{r['first_instance']:.2f}",
                r["deltas_to_instance"] or "-",
                f"{1000 * r['partial_s'] / r['partial_calls']:.3f}",
                f"{token_ms:.1f}",
                f"{100 * r['partial_s'] / r['stream_s']:.2f} %",
                f"{r['stream_s'] / r['call_s']:.2f}",
                "yes" if r["same"] else "NO",
            ]
        )
    partial = sum(r["partial_s"] for r in results)
    calls = sum(r["partial_calls"] for r in results)
    stream = sum(r["stream_s"] for r in results)
    deltas = sum(r["deltas"] for r in results)
    rows.append(
        [
            "**all**",
            deltas,
            f"{statistics.median(r['first_chunk'] for r in results):.2f} (median)",
            f"{statistics.median(r['first_instance'] or stream for r in results):.2f} (median)",
            f"{statistics.median(r['deltas_to_instance'] or deltas for r in results):.0f} (median)",
            f"{1000 * partial / calls:.3f}",
            f"{1000 * stream / deltas:.1f}",
            f"{100 * partial / stream:.2f} %",
            f"{stream / sum(r['call_s'] for r in results):.2f}",
            f"{sum(r['same'] for r in results)}/{len(results)}",
        ]
    )
    print(
        f"\n## Streaming typed functions: {len(cases)} cases, default model, greedy, "
        f"max_tokens {args.max_tokens}\n"
    )
    header = [
        "case",
        "deltas",
        "first chunk s",
        "first instance s",
        "deltas to first instance",
        "partial ms/delta",
        "token ms",
        "partial share of wall",
        "stream / call",
        "same result",
    ]
    print(_engines.table(header, rows))


if __name__ == "__main__":
    main()

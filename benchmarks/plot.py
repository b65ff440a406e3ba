"""Plots of the benchmark figures for the documentation (docs/images/), from their JSON output.

Reads what ``bench_fsm.py --json`` and ``bench_schemas.py --json`` wrote and draws:

* ``mask-times.png``: the distribution of per-token mask times (first visits included) of every
  engine, one panel per tokenizer, as the share of masks computed within a given time (log
  scale): the further left and the steeper, the better;
* ``schema-coverage.png``: the sound coverage of every engine per schema subset (the share of
  schemas compiled whose walks never leave the schema), as grouped bars.

Run: ``.venv/bin/python benchmarks/plot.py [--fsm benchmarks/results/bench_fsm.json]
[--schemas benchmarks/results/bench_schemas.json] [--out docs/images]`` (``make plots``).
A missing input is skipped with a message; nothing else is read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
COLOURS = {
    "typedgen": "#1f77b4",
    "xgrammar": "#ff7f0e",
    "llguidance": "#2ca02c",
    "outlines_core": "#d62728",
}


def plot_mask_times(data: dict[str, Any], out: Path) -> None:
    tokenizers = data["seconds"]
    fig, axes = plt.subplots(1, len(tokenizers), figsize=(6 * len(tokenizers), 4), squeeze=False)
    for axis, (name, figures) in zip(axes[0], tokenizers.items(), strict=True):
        for engine, timings in figures["engines"].items():
            masks = np.sort(np.asarray(timings["mask"], dtype=float)) * 1e6
            if masks.size == 0:
                continue
            share = np.arange(1, masks.size + 1) / masks.size
            axis.step(masks, share, where="post", label=engine, color=COLOURS.get(engine))
        axis.set_xscale("log")
        axis.set_xlabel("mask time per token (µs, log scale)")
        axis.set_ylabel("share of masks at most this slow")
        axis.set_title(f"{name} (vocabulary {figures['vocab_size']}, {figures['regexes']} regexes)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_schema_coverage(data: dict[str, Any], out: Path) -> None:
    subsets = data["subsets"]
    names = list(subsets)
    engines = list(dict.fromkeys(engine for subset in subsets.values() for engine in subset))
    width = 0.8 / max(1, len(engines))
    fig, axis = plt.subplots(figsize=(max(8, 0.8 * len(names)), 4.5))
    positions = np.arange(len(names))
    for i, engine in enumerate(engines):
        shares = [
            100 * subsets[s][engine]["sound"] / max(1, subsets[s][engine]["schemas"])
            if engine in subsets[s]
            else 0.0
            for s in names
        ]
        axis.bar(positions + i * width, shares, width, label=engine, color=COLOURS.get(engine))
    axis.set_xticks(positions + width * (len(engines) - 1) / 2)
    axis.set_xticklabels(names, rotation=35, ha="right")
    axis.set_ylabel("sound coverage (%)")
    axis.set_ylim(0, 100)
    axis.grid(True, axis="y", alpha=0.3)
    axis.legend(ncols=len(engines), loc="upper center", bbox_to_anchor=(0.5, 1.12))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fsm", type=Path, default=RESULTS / "bench_fsm.json")
    parser.add_argument("--schemas", type=Path, default=RESULTS / "bench_schemas.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for source, plot, name in (
        (args.fsm, plot_mask_times, "mask-times.png"),
        (args.schemas, plot_schema_coverage, "schema-coverage.png"),
    ):
        if not source.is_file():
            print(f"{source}: not found, {name} not drawn (run the benchmark with --json)")
            continue
        plot(json.loads(source.read_text()), args.out / name)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()

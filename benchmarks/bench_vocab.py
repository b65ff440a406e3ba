"""Reading a tokenizer's vocabulary: typedgen against xgrammar and llguidance, same run.

For each of the four offline tokenizers (``typedgen.testing.load_tokenizer``), times
``typedgen.Vocabulary.from_tokenizer``, ``xgrammar.TokenizerInfo.from_huggingface`` and
``llguidance.hf.from_tokenizer`` (best of ``--repeat`` runs, tokenizer already loaded) and
prints the ratios; it also counts the token ids where xgrammar's decoded bytes differ from
typedgen's (ids that one of them treats as special are left out of that count).

    .venv/bin/python benchmarks/bench_vocab.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from typing import Any

from typedgen import Vocabulary
from typedgen.testing._tokenizers import TOKENIZER_NAMES, load_tokenizer


def best_of(repeat: int, build: Callable[[Any], Any], tokenizer: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = build(tokenizer)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    has_xgrammar = importlib.util.find_spec("xgrammar") is not None
    has_llguidance = importlib.util.find_spec("llguidance") is not None
    header = f"{'tokenizer':<18} {'ids':>7} {'typedgen s':>10}"
    header += f" {'xgrammar s':>10} {'ratio':>6} {'differ':>6}" if has_xgrammar else ""
    header += f" {'llguidance s':>12} {'ratio':>6}" if has_llguidance else ""
    print(header)
    for name in TOKENIZER_NAMES:
        try:
            tokenizer = load_tokenizer(name)
        except FileNotFoundError as missing:
            print(f"{name:<18} skipped: {missing}")
            continue
        ours, vocabulary = best_of(args.repeat, Vocabulary.from_tokenizer, tokenizer)
        row = f"{name:<18} {len(vocabulary.token_bytes):>7} {ours:>10.3f}"
        if has_xgrammar:
            import xgrammar

            theirs, info = best_of(args.repeat, xgrammar.TokenizerInfo.from_huggingface, tokenizer)
            row += f" {theirs:>10.3f} {theirs / ours:>6.1f} {_differ(vocabulary, info):>6}"
        if has_llguidance:
            import llguidance.hf

            theirs, _ = best_of(args.repeat, llguidance.hf.from_tokenizer, tokenizer)
            row += f" {theirs:>12.3f} {theirs / ours:>6.1f}"
        print(row)
    print("ratio = peer time / typedgen time (above 1: typedgen is faster)")


def _differ(vocabulary: Vocabulary, info: Any) -> int:
    special = set(info.special_token_ids)
    decoded = info.decoded_vocab
    return sum(
        1
        for token_id, ours in enumerate(vocabulary.token_bytes)
        if ours is not None
        and token_id not in special
        and token_id < len(decoded)
        and decoded[token_id] != ours
    )


if __name__ == "__main__":
    main()

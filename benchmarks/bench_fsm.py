"""Regex → token masks: typedgen against outlines_core, xgrammar and llguidance, in one run.

For every tokenizer (a 32k SentencePiece and the 131k tekken vocabulary) and every regex (24
JSON objects of growing size, an email, a date-time, a 500-way alternation), each engine:

* compiles the regex and fills the first mask (**time to first mask**, TTFM);
* walks a valid instance token by token, filling the mask before each token (**mask time**,
  first visits included: nothing is precomputed beyond what the engine does itself; with
  ``--prefetch``, typedgen calls ``Guide.prefetch`` after each mask and waits for it, untimed,
  as its vLLM processor prefetches while the model runs);
* **memory**: typedgen reports its exact C memory (DFA + memoized masks); peers are measured as
  the growth of the process's resident set over the compile and the walk (coarse: allocator
  reuse can hide it, so small figures are only indicative).

Every engine is given the same token bytes (typedgen's Vocabulary of the tokenizer) and the same
token ids along the instance. Tokenizer-level preparation (trie, tokenizer info) is done once
per tokenizer, outside the timings, for every engine.

Run: ``.venv/bin/python benchmarks/bench_fsm.py [--tokenizers sentencepiece-32k tekken-131k]
[--engines typedgen outlines_core xgrammar llguidance] [--quick] [--prefetch]``. Prints Markdown
tables.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from typedgen import Vocabulary
from typedgen._compiler import compile_regex
from typedgen._fsm import _wait_prefetched
from typedgen.testing import load_tokenizer

STRING = r'"([^"\\\x00-\x1f]|\\["\\/bfnrt])*"'
SHORT_STRING = r'"[^"\\\x00-\x1f]{0,20}"'
INTEGER = r"-?(0|[1-9][0-9]{0,15})"
NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
BOOLEAN = r"(true|false)"
ENUM = r'("red"|"green"|"blue"|"yellow")'
DATE = r'"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"'
NAMES = [
    "id", "name", "email", "age", "active", "score", "created", "color", "title", "count",
    "description", "price", "enabled", "updated", "tags_count", "owner", "rank", "level",
    "nickname", "weight", "height", "status_code", "label", "verified",
]  # fmt: skip
KINDS: list[tuple[str, Callable[[random.Random], str]]] = [
    (INTEGER, lambda r: str(r.randint(0, 10**6))),
    (STRING, lambda r: '"' + r.choice(["Ada Lovelace", "Zoë 日本 ✓", 'a \\"quoted\\" one']) + '"'),
    (SHORT_STRING, lambda r: '"' + r.choice(["short", "moyen é", "x" * 20]) + '"'),
    (BOOLEAN, lambda r: r.choice(["true", "false"])),
    (NUMBER, lambda r: r.choice(["3.25", "-0.5e10", "42"])),
    (ENUM, lambda r: r.choice(['"red"', '"blue"'])),
    (DATE, lambda r: '"2024-02-29"'),
]


@dataclass
class Case:
    name: str
    pattern: str
    instance: str


def json_object_case(size: int) -> Case:
    rng = random.Random(size)
    parts, values = [], []
    for k in range(size):
        regex, value = KINDS[k % len(KINDS)]
        key = NAMES[k % len(NAMES)]
        parts.append(f'"{key}": ?{regex}')
        values.append(f'"{key}": {value(rng)}')
    pattern = r"\{ ?" + ", ?".join(parts) + r" ?\}"
    return Case(f"json-{size:02d}", pattern, "{" + ", ".join(values) + "}")


def alternation_case(count: int) -> Case:
    rng = random.Random(7)
    words = sorted({"".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 12)))
                    for _ in range(count * 2)})[:count]  # fmt: skip
    return Case(f"alt-{count}", "(" + "|".join(words) + ")", words[count // 2])


def cases() -> list[Case]:
    out = [json_object_case(size) for size in range(1, 25)]
    out.append(
        Case(
            "email",
            r"[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(\.[a-zA-Z0-9-]{1,63})*\.[a-zA-Z]{2,24}",
            "ada.lovelace+bench@math.example.org",
        )
    )
    out.append(
        Case(
            "date-time",
            r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
            r":[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])",
            "2024-02-29T13:37:00.123+01:00",
        )
    )
    out.append(alternation_case(500))
    return out


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- engines: prepare(vocab, tokenizer) once; run(case, ids) -> Result -------------------------


@dataclass
class Result:
    ttfm: float = 0.0
    masks: list[float] = field(default_factory=list)
    memory: int = 0
    error: str = ""


class Engine:
    name = ""

    def prepare(self, vocab: Vocabulary, tokenizer: Any) -> None:
        raise NotImplementedError

    def run(self, case: Case, ids: list[int]) -> Result:
        raise NotImplementedError


class Typedgen(Engine):
    name = "typedgen"
    prefetch = False  # --prefetch: Guide.prefetch after each mask, waited for outside the timing

    def prepare(self, vocab: Vocabulary, tokenizer: Any) -> None:
        self.vocab = vocab
        vocab.trie  # noqa: B018 (built once per vocabulary, like the peers' tokenizer info)
        self.out = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)

    def run(self, case: Case, ids: list[int]) -> Result:
        result = Result()
        t0 = time.perf_counter()
        guide = compile_regex(case.pattern, self.vocab)
        state = guide.initial_state
        guide.fill_bitmask(state, self.out)
        result.ttfm = time.perf_counter() - t0
        for token in ids:
            t0 = time.perf_counter()
            guide.fill_bitmask(state, self.out)
            result.masks.append(time.perf_counter() - t0)
            if self.prefetch:
                guide.prefetch(state)
                _wait_prefetched()
            state = guide.advance(state, token)
        eos = min(self.vocab.eos_token_ids)
        if not guide.is_allowed(state, eos):
            result.error = "instance not accepted"
        result.memory = guide.memory
        return result


class OutlinesCore(Engine):
    name = "outlines_core"

    def prepare(self, vocab: Vocabulary, tokenizer: Any) -> None:
        import outlines_core

        self.oc = outlines_core
        table: dict[bytes, list[int]] = {}
        for token_id, data in enumerate(vocab.token_bytes):
            if data is not None:
                table.setdefault(data, []).append(token_id)
        self.vocabulary = outlines_core.Vocabulary(min(vocab.eos_token_ids), table)
        self.out = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)

    def run(self, case: Case, ids: list[int]) -> Result:
        result = Result()
        before = rss()
        t0 = time.perf_counter()
        guide = self.oc.Guide(self.oc.Index(case.pattern, self.vocabulary))
        ptr, size = self.out.ctypes.data, self.out.size
        guide.write_mask_into(ptr, size, 4)
        result.ttfm = time.perf_counter() - t0
        for token in ids:
            t0 = time.perf_counter()
            guide.write_mask_into(ptr, size, 4)
            result.masks.append(time.perf_counter() - t0)
            guide.advance(token, False)
        result.memory = rss() - before
        return result


class XGrammar(Engine):
    name = "xgrammar"

    def prepare(self, vocab: Vocabulary, tokenizer: Any) -> None:
        import xgrammar

        self.xgr = xgrammar
        encoded = [data if data is not None else b"" for data in vocab.token_bytes]
        info = xgrammar.TokenizerInfo(
            encoded,
            vocab_type=xgrammar.VocabType.RAW,
            vocab_size=vocab.size,
            stop_token_ids=sorted(vocab.eos_token_ids),
        )
        self.compiler = xgrammar.GrammarCompiler(info, cache_enabled=False)
        self.out = xgrammar.allocate_token_bitmask(1, vocab.size)

    def compile(self, case: Any) -> Any:
        """The compiled grammar of ``case`` (here: its regex)."""
        return self.compiler.compile_regex(case.pattern)

    def run(self, case: Case, ids: list[int]) -> Result:
        result = Result()
        before = rss()
        t0 = time.perf_counter()
        matcher = self.xgr.GrammarMatcher(self.compile(case))
        matcher.fill_next_token_bitmask(self.out)
        result.ttfm = time.perf_counter() - t0
        for token in ids:
            t0 = time.perf_counter()
            matcher.fill_next_token_bitmask(self.out)
            result.masks.append(time.perf_counter() - t0)
            if not matcher.accept_token(token):
                result.error = "token rejected"
                break
        result.memory = rss() - before
        return result


class LLGuidance(Engine):
    name = "llguidance"

    def grammar(self, case: Any) -> Any:
        """The grammar of ``case`` for llguidance (here: from its regex)."""
        return self.llg.LLMatcher.grammar_from_regex(case.pattern)

    def prepare(self, vocab: Vocabulary, tokenizer: Any) -> None:
        import llguidance
        import llguidance.numpy

        self.llg = llguidance
        self.fill = llguidance.numpy.fill_next_token_bitmask

        class Wrapped:
            def __init__(self) -> None:
                self.eos_token_id = min(vocab.eos_token_ids)
                self.bos_token_id = None
                # llguidance marks special tokens with a leading 0xFF byte
                self.tokens = [
                    data if data is not None else b"\xff[%d]" % i
                    for i, data in enumerate(vocab.token_bytes)
                ]
                self.special_token_ids = [i for i, d in enumerate(vocab.token_bytes) if d is None]

            def __call__(self, text: bytes | str) -> list[int]:
                s = text.decode() if isinstance(text, bytes) else text
                return instance_ids(tokenizer, vocab, s) if s else []

        self.tokenizer = llguidance.LLTokenizer(
            llguidance.TokenizerWrapper(Wrapped()), n_vocab=vocab.size
        )
        self.out = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)

    def run(self, case: Case, ids: list[int]) -> Result:
        result = Result()
        before = rss()
        t0 = time.perf_counter()
        matcher = self.llg.LLMatcher(self.tokenizer, self.grammar(case), log_level=0)
        self.fill(matcher, self.out)
        result.ttfm = time.perf_counter() - t0
        if matcher.is_error():
            result.error = matcher.get_error()[:80]
            return result
        for token in ids:
            t0 = time.perf_counter()
            self.fill(matcher, self.out)
            result.masks.append(time.perf_counter() - t0)
            if not matcher.consume_token(token):
                result.error = "token rejected: " + matcher.get_error()[:60]
                break
        result.memory = rss() - before
        return result


ENGINES: dict[str, type[Engine]] = {
    e.name: e for e in (Typedgen, OutlinesCore, XGrammar, LLGuidance)
}


# --- driver -----------------------------------------------------------------------------------


def instance_ids(tokenizer: Any, vocab: Vocabulary, text: str) -> list[int]:
    """Token ids whose bytes are exactly ``text`` (a SentencePiece dummy prefix is undone)."""
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    data = b"".join(vocab.token_bytes[i] or b"" for i in ids)
    if data == text.encode():
        return ids
    first = vocab.token_bytes[ids[0]] or b""
    if data == b" " + text.encode() and first.startswith(b" "):
        lookup = {d: i for i, d in enumerate(vocab.token_bytes) if d is not None}
        rest = first[1:]
        head = [lookup[rest]] if rest in lookup else [lookup[bytes([b])] for b in rest]
        return head + ids[1:]
    raise RuntimeError(f"cannot tokenize {text!r} exactly")


def run_case(engine: Engine, case: Case, ids: list[int], repeat: int) -> Result:
    """The best of ``repeat`` fresh runs (fewest seconds to first mask), so that a load spike
    on a shared machine does not decide a figure; runs slower than 0.2 s are not repeated."""
    best: Result | None = None
    for _ in range(repeat):
        gc.collect()
        try:
            result = engine.run(case, ids)
        except Exception as exc:  # a peer refusing a regex or a valid token
            return Result(error=f"{type(exc).__name__}: {str(exc)[:80]}")
        if result.error:
            return result
        if best is None or result.ttfm < best.ttfm:
            best = result
        if result.ttfm > 0.2:
            break
    assert best is not None
    return best


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt_time(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float) -> str:
    if math.isnan(n):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizers", nargs="+", default=["sentencepiece-32k", "tekken-131k"])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--quick", action="store_true", help="every 4th JSON regex only")
    parser.add_argument("--detail", action="store_true", help="print one row per regex too")
    parser.add_argument(
        "--prefetch",
        action="store_true",
        help="typedgen: Guide.prefetch after each mask, waited for untimed (as its processor)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per regex (best kept)")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write every TTFM and mask time here"
    )
    args = parser.parse_args()
    measured: dict[str, dict[str, object]] = {}
    all_cases = cases()
    if args.quick:
        all_cases = [
            c for i, c in enumerate(all_cases) if i % 4 == 3 or not c.name.startswith("json")
        ]
    for tok_name in args.tokenizers:
        tokenizer = load_tokenizer(tok_name)
        vocab = Vocabulary.from_tokenizer(tokenizer)
        print(f"\n## {tok_name} (vocabulary size {vocab.size}), {len(all_cases)} regexes\n")
        ids = {c.name: instance_ids(tokenizer, vocab, c.instance) for c in all_cases}
        summary: dict[str, dict[str, float]] = {}
        detail: list[str] = []
        timings: dict[str, dict[str, list[float]]] = {}
        measured[tok_name] = {
            "vocab_size": vocab.size,
            "regexes": len(all_cases),
            "engines": timings,
        }
        for engine_name in args.engines:
            engine = ENGINES[engine_name]()
            if isinstance(engine, Typedgen):
                engine.prefetch = args.prefetch
            t0 = time.perf_counter()
            engine.prepare(vocab, tokenizer)
            prep = time.perf_counter() - t0
            ttfms, masks, memories, errors = [], [], [], []
            for case in all_cases:
                result = run_case(engine, case, ids[case.name], args.repeat)
                if result.error:
                    errors.append(f"{case.name}: {result.error}")
                    continue
                ttfms.append(result.ttfm)
                masks.extend(result.masks)
                per_state = result.memory / max(1, len(result.masks))
                memories.append(per_state)
                detail.append(
                    f"| {engine_name} | {case.name} | {fmt_time(result.ttfm)} | "
                    f"{fmt_time(pct(result.masks, 0.5))} | {fmt_time(max(result.masks))} | "
                    f"{fmt_bytes(result.memory)} |"
                )
            timings[engine_name] = {"ttfm": ttfms, "mask": masks}
            summary[engine_name] = {
                "prep": prep,
                "ttfm50": pct(ttfms, 0.5),
                "ttfm95": pct(ttfms, 0.95),
                "mask50": pct(masks, 0.5),
                "mask99": pct(masks, 0.99),
                "mem": statistics.median(memories) if memories else float("nan"),
                "ok": len(ttfms),
            }
            for error in errors:
                print(f"- {engine_name} failed {error}")
        base = summary.get("typedgen")
        print(
            "| engine | compiled | tokenizer prep | TTFM p50 | TTFM p95 | mask p50 | mask p99 "
            "| memory / mask (median) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for engine_name, s in summary.items():
            cells = []
            for key in ("ttfm50", "ttfm95", "mask50", "mask99"):
                ratio = ""
                if base and engine_name != "typedgen" and base[key] > 0:
                    ratio = f" ({s[key] / base[key]:.1f}x)"
                cells.append(fmt_time(s[key]) + ratio)
            print(
                f"| {engine_name} | {s['ok']}/{len(all_cases)} | {fmt_time(s['prep'])} | "
                + " | ".join(cells)
                + f" | {fmt_bytes(s['mem'])} |"
            )
        print("\n(x: the peer's figure divided by typedgen's; above 1 means typedgen is faster)")
        if args.detail:
            print("\n| engine | regex | TTFM | mask p50 | mask max | memory |")
            print("|---|---|---|---|---|---|")
            print("\n".join(detail))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seconds": measured}))


if __name__ == "__main__":
    main()

"""JSON Schema coverage and soundness: typedgen against xgrammar, llguidance and outlines_core.

Over the public MaskBench split (``../shared/data/maskbench-public``; ``--limit`` schemas per
subset, all subsets by default) and the JSON-Schema-Test-Suite (``../shared/data/
json-schema-test-suite``, draft 2020-12, one case per test group, as subset
``JSON-Schema-Test-Suite``), for every schema and every engine, in one run and with the same
token bytes (typedgen's Vocabulary of a 32k SentencePiece tokenizer):

* **compiled** or refused (typedgen: the ``SchemaError`` reason; peers: their error), within
  ``--timeout`` seconds (a forked child per engine and schema is killed after it);
* **TTFM**: time to first mask, from the schema to the first filled bitmask (typedgen: schema →
  regex or grammar → automaton → mask, nothing cached; the ``lark`` package that reads grammars
  is loaded once before, as it is in a serving process);
* **accepted**: every ``valid: true`` instance, written compactly, is accepted token by token and
  then EOS; the mask before each of its tokens is filled and timed (**mask p50 / p99**, first
  visits of states included);
* **walks**: ``--walks`` random token walks (uniform over the allowed tokens, or, part of the
  time, over the allowed closing, structural or one-byte tokens so that walks end; EOS taken when
  allowed with probability
  0.3; at most ``--max-tokens`` tokens).  A walk that ends (EOS) must be JSON that validates with
  ``jsonschema`` (formats checked; a top-level ``multipleOf`` failure is re-checked on the
  decimals as written, since ``jsonschema`` divides binary floats); one that does not is
  **unsound**.  Walks cut by the token cap
  are counted apart.

**Sound coverage** = compiled, every valid instance accepted, zero unsound walks.  Prints one
Markdown table per subset, a summary with ratios against the best peer, the top refusal reasons
of typedgen, and the number of recursive schemas (a ``$ref`` cycle) per subset.  ``--details`` also
lists, as it goes, every schema an engine does not cover soundly, with the cause (the refusal,
the first valid instance rejected, or an unsound walk).

Valid instances are written as given (``json.dumps`` of the test's data, compact, members in the
data's own order, not reordered into schema order): typedgen, llguidance and xgrammar all write
object members in schema order, so an instance whose members come in another order is rejected
by each of them alike.

Engine ``typedgen`` is :func:`typedgen.compile_json_schema`, which takes the regex path where
the schema's regex is exact (no ``$ref`` cycle, no "any value", not too large) and the grammar
path otherwise; ``typedgen-regex`` and ``typedgen-grammar`` force one path
(``compile_json_schema(..., path=...)``: the regex path then unrolls recursion and "any
value" 3 levels).  ``--compare-paths`` runs those two and
prints, over the schemas both compile, TTFM and mask times by the size of the regex: the
measurement behind the choice of ``compile_json_schema`` (``docs/json-schema.md``).

Run: ``.venv/bin/python benchmarks/bench_schemas.py [--subsets Github_easy Kubernetes]
[--limit 100] [--engines typedgen xgrammar llguidance outlines_core] [--walks 20]
[--compare-paths] [--recursive]``.
"""

from __future__ import annotations

import argparse
import collections
import glob
import itertools
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from bench_fsm import LLGuidance, OutlinesCore, XGrammar, instance_ids, rss

from typedgen import (
    SchemaError,
    Vocabulary,
    compile_grammar,
    compile_json_schema,
    json_schema_to_regex,
)
from typedgen._compiler import json_schema_path
from typedgen._schema.regex_text import regex_size
from typedgen.testing import load_tokenizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "maskbench-public"
SUITE = DATA.parent / "json-schema-test-suite"
SUITE_SUBSET = "JSON-Schema-Test-Suite"
ForcedPath = Literal["regex", "grammar"] | None  # None: the path compile_json_schema chooses

TYPEDGEN: dict[str, ForcedPath] = {
    "typedgen": None,
    "typedgen-regex": "regex",
    "typedgen-grammar": "grammar",
}
"""typedgen's engines: the path compile_json_schema chooses (None), or the one forced."""
SIZE_BUCKETS = (0, 1_000, 10_000, 100_000, 300_000, 1_000_001)
"""Regex sizes (``regex_size`` units) at which ``--compare-paths`` splits its table."""


@dataclass
class Outcome:
    compiled: bool = False
    error: str = ""
    ttfm: float = 0.0
    valid: int = 0
    accepted: int = 0
    walks: int = 0
    unsound: int = 0
    capped: int = 0
    path: str = ""  # typedgen: "regex" or "grammar"
    size: int = 0  # typedgen-regex: the regex size (typedgen._json_schema.regex_size)
    masks: list[float] = field(default_factory=list)  # seconds of each mask filled
    examples: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return self.compiled and self.accepted == self.valid and self.unsound == 0


# --- one matcher interface over the four engines ------------------------------------------------


class Matcher:
    """A compiled schema in one engine: masks, token steps, acceptance."""

    def fill(self) -> None: ...  # the engine's own bitmask of the current state
    def mask(self) -> np.ndarray: ...  # bool array over the vocabulary
    def step(self, token: int) -> bool: ...
    def accepts_eos(self) -> bool: ...
    def reset(self) -> None: ...


def _bits(words: np.ndarray, size: int) -> np.ndarray:
    flat = np.ascontiguousarray(words.reshape(-1)).view(np.uint32)
    bits = np.unpackbits(flat.view(np.uint8), bitorder="little")
    return bits[:size].astype(bool)


class TypedgenMatcher(Matcher):
    def __init__(self, schema: Any, vocab: Vocabulary, path: ForcedPath) -> None:
        """``path``: ``None`` for the path compile_json_schema takes, or the one forced."""
        self.vocab = vocab
        self.out = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)
        self.guide = compile_json_schema(schema, vocab, path=path)
        self.state = self.guide.initial_state
        self.guide.fill_bitmask(self.state, self.out)

    def fill(self) -> None:
        self.guide.fill_bitmask(self.state, self.out)

    def mask(self) -> np.ndarray:
        self.fill()
        return _bits(self.out, self.vocab.size)

    def step(self, token: int) -> bool:
        if not self.guide.is_allowed(self.state, token):
            return False
        self.state = self.guide.advance(self.state, token)
        return True

    def accepts_eos(self) -> bool:
        return self.guide.is_final(self.state)

    def reset(self) -> None:
        self.state = self.guide.initial_state


class XGrammarMatcher(Matcher):
    def __init__(self, schema: Any, engine: XGrammar) -> None:
        self.engine = engine
        compiled = engine.compiler.compile_json_schema(
            json.dumps(schema), any_whitespace=False, separators=(",", ":")
        )
        self.matcher = engine.xgr.GrammarMatcher(compiled)
        self.matcher.fill_next_token_bitmask(engine.out)

    def fill(self) -> None:
        self.matcher.fill_next_token_bitmask(self.engine.out)

    def mask(self) -> np.ndarray:
        self.fill()
        return _bits(self.engine.out.numpy(), self.engine.vocab_size)

    def step(self, token: int) -> bool:
        return bool(self.matcher.accept_token(token))

    def accepts_eos(self) -> bool:
        return bool(self.matcher.is_terminated()) or bool(
            self.matcher.accept_token(self.engine.eos)
        )

    def reset(self) -> None:
        self.matcher.reset()


class LLGuidanceMatcher(Matcher):
    def __init__(self, schema: Any, engine: LLGuidance) -> None:
        self.engine = engine
        grammar = engine.llg.LLMatcher.grammar_from_json_schema(
            schema, defaults={"whitespace_flexible": False}
        )
        self.matcher = engine.llg.LLMatcher(engine.tokenizer, grammar, log_level=0)
        engine.fill(self.matcher, engine.out)
        if self.matcher.is_error():
            raise ValueError(self.matcher.get_error())

    def fill(self) -> None:
        self.engine.fill(self.matcher, self.engine.out)

    def mask(self) -> np.ndarray:
        self.fill()
        return _bits(self.engine.out, self.engine.vocab_size)

    def step(self, token: int) -> bool:
        return bool(self.matcher.consume_token(token))

    def accepts_eos(self) -> bool:
        return bool(self.matcher.is_accepting())

    def reset(self) -> None:
        self.matcher.reset()


class OutlinesMatcher(Matcher):
    def __init__(self, schema: Any, engine: OutlinesCore) -> None:
        self.engine = engine
        from outlines_core.json_schema import build_regex_from_schema

        regex = build_regex_from_schema(json.dumps(schema))
        self.index = engine.oc.Index(regex, engine.vocabulary)
        self.guide = engine.oc.Guide(self.index)
        self.guide.write_mask_into(engine.out.ctypes.data, engine.out.size, 4)

    def fill(self) -> None:
        self.guide.write_mask_into(self.engine.out.ctypes.data, self.engine.out.size, 4)

    def mask(self) -> np.ndarray:
        self.fill()
        return _bits(self.engine.out, self.engine.vocab_size)

    def step(self, token: int) -> bool:
        try:
            self.guide.advance(token, False)
        except ValueError:
            return False
        return True

    def accepts_eos(self) -> bool:
        return bool(self.guide.is_finished())

    def reset(self) -> None:
        self.guide = self.engine.oc.Guide(self.index)


# --- the measurements of one (engine, schema) --------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tokenizer = load_tokenizer(args.tokenizer)
        self.vocab = Vocabulary.from_tokenizer(self.tokenizer)
        self.vocab.trie  # noqa: B018 (once per vocabulary, outside the timings)
        self.eos = min(self.vocab.eos_token_ids)
        self.one_byte = np.array(
            [d is not None and len(d) == 1 for d in self.vocab.token_bytes]
            + [False] * (self.vocab.size - len(self.vocab.token_bytes))
        )
        self.structural = self.one_byte & np.array(
            [
                d is not None and len(d) == 1 and d in b'"{}[],:0123456789-.tfnrue'
                for d in self.vocab.token_bytes
            ]
            + [False] * (self.vocab.size - len(self.vocab.token_bytes))
        )
        self.closing = self.one_byte & np.array(
            [d is not None and len(d) == 1 and d in b'"}]' for d in self.vocab.token_bytes]
            + [False] * (self.vocab.size - len(self.vocab.token_bytes))
        )
        self.engines: dict[str, Any] = {}
        for name, cls in (
            ("xgrammar", XGrammar),
            ("llguidance", LLGuidance),
            ("outlines_core", OutlinesCore),
        ):
            if name in args.engines:
                engine = cls()
                engine.prepare(self.vocab, self.tokenizer)
                engine.vocab_size = self.vocab.size
                engine.eos = self.eos
                self.engines[name] = engine
        if any(name in TYPEDGEN for name in args.engines):  # lark read once, as when serving
            compile_grammar('start: "a"', self.vocab)

    def matcher(self, engine: str, schema: Any) -> Matcher:
        if engine in TYPEDGEN:
            return TypedgenMatcher(schema, self.vocab, TYPEDGEN[engine])
        cls = {
            "xgrammar": XGrammarMatcher,
            "llguidance": LLGuidanceMatcher,
            "outlines_core": OutlinesMatcher,
        }[engine]
        return cls(schema, self.engines[engine])  # type: ignore[abstract]

    def measure(self, engine: str, case: dict[str, Any]) -> Outcome:
        outcome = Outcome()
        schema = case["schema"]
        t0 = time.perf_counter()
        try:
            matcher = self.matcher(engine, schema)
        except SchemaError as error:
            outcome.error = (
                error.reason if error.keyword is None else (f"{error.keyword}: {error.reason}")
            )
            return outcome
        except Exception as error:  # a peer's own failure, reported as its refusal
            outcome.error = f"{type(error).__name__}: {str(error)[:120]}"
            return outcome
        outcome.ttfm = time.perf_counter() - t0
        outcome.compiled = True
        if engine == "typedgen":
            outcome.path = json_schema_path(schema)[0]
        elif engine == "typedgen-regex":
            outcome.size = regex_size(json_schema_to_regex(schema))
        for test in case["tests"]:
            if not test["valid"]:
                continue
            outcome.valid += 1
            text = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False)
            matcher.reset()
            try:
                ids = instance_ids(self.tokenizer, self.vocab, text)
            except (RuntimeError, KeyError, IndexError):
                outcome.valid -= 1  # not tokenizable exactly: no verdict for any engine
                continue
            if all(_timed_step(matcher, t, outcome.masks) for t in ids) and matcher.accepts_eos():
                outcome.accepted += 1
            elif len(outcome.rejected) < 2:
                outcome.rejected.append(text[:300])
        validator = _validator(schema)
        rng = random.Random(zlib.crc32(json.dumps(schema, sort_keys=True).encode()))
        for _ in range(self.args.walks):
            data, ended = self.walk(matcher, rng)
            if not ended:
                outcome.capped += 1
                continue
            outcome.walks += 1
            if not _valid(validator, data):
                outcome.unsound += 1
                if len(outcome.examples) < 2:
                    outcome.examples.append(data[:200].decode(errors="replace"))
        return outcome

    def walk(self, matcher: Matcher, rng: random.Random) -> tuple[bytes, bool]:
        """A random token walk from the initial state (at most ``--max-tokens`` tokens): its
        bytes, and whether it ended with EOS."""
        matcher.reset()
        data = bytearray()
        ended = False
        for _ in range(self.args.max_tokens):
            allowed = matcher.mask()
            if allowed[self.eos] and rng.random() < 0.3:
                ended = True
                break
            allowed[self.eos] = False
            draw = rng.random()
            choices: Any = []
            if draw < 0.3:  # closing bytes and structural ones, so that walks end
                choices = np.flatnonzero(allowed & self.closing)
            elif draw < 0.5:
                choices = np.flatnonzero(allowed & self.structural)
            elif draw < 0.7:
                choices = np.flatnonzero(allowed & self.one_byte)
            if len(choices) == 0:
                choices = np.flatnonzero(allowed)
            if len(choices) == 0:
                ended = matcher.accepts_eos()
                break
            token = int(rng.choice(list(choices)))
            if not matcher.step(token):
                break
            data += self.vocab.token_bytes[token] or b""
        return bytes(data), ended


def _timed_step(matcher: Matcher, token: int, masks: list[float]) -> bool:
    """Fills the mask of the current state (timed into ``masks``), then steps over ``token``."""
    t0 = time.perf_counter()
    matcher.fill()
    masks.append(time.perf_counter() - t0)
    return matcher.step(token)


def _validator(schema: Any) -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _valid(validator: Any, data: bytes) -> bool:
    """Whether ``data`` is JSON that validates.  ``multipleOf`` is decided on the decimal
    numbers as written (``jsonschema`` divides binary floats: 9.03 is not a multiple of 0.01 to
    it), so a failure of that keyword alone is re-checked exactly."""
    try:
        value = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    try:
        return all(_exact_multiple(error) for error in validator.iter_errors(value))
    except Exception:  # a validator crash on a generated value counts against the engine
        return False


def _exact_multiple(error: Any) -> bool:
    """Whether ``error`` is a ``multipleOf`` failure that exact decimal arithmetic overturns."""
    if error.validator != "multipleOf" or isinstance(error.instance, bool):
        return False
    step = Decimal(repr(error.validator_value))
    return step != 0 and Decimal(repr(error.instance)) % step == 0


def _run_child(run: Callable[..., Any], args: tuple[Any, ...], conn: Any) -> None:
    conn.send(run(*args))
    conn.close()


def in_child(timeout: float, run: Callable[..., Any], *args: Any) -> Any:
    """``run(*args)`` in a forked child, killed after ``timeout`` seconds: its result, or None
    when it timed out or crashed."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run_child, args=(run, args, send))
    child.start()
    send.close()
    data = None
    if receive.poll(timeout):
        with contextlib.suppress(EOFError):
            data = receive.recv()
    child.kill()
    child.join()
    return data


def measure_with_timeout(bench: Bench, engine: str, case: dict[str, Any]) -> Outcome:
    """Run one measurement in a forked child, killed after ``--timeout`` seconds."""
    data = in_child(bench.args.timeout, lambda: asdict(bench.measure(engine, case)))
    if data is None:
        return Outcome(error=f"timeout ({bench.args.timeout:g} s) or crash")
    return Outcome(**data)


def _compiles(bench: Bench, case: dict[str, Any]) -> bool:
    try:
        TypedgenMatcher(case["schema"], bench.vocab, None)
    except SchemaError:
        return False
    return True


def measure_memory(bench: Bench, cases: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """``--memory``, in a child per subset: the guides of ``cases`` compiled by typedgen (those
    refused, or whose compilation alone passed ``--timeout`` in a child, left out) and all
    held, with their first mask filled, then after ``--walks`` random walks each. Per moment:
    the growth of resident memory since the child started (the vocabulary's trie built
    before), the sum of :attr:`Guide.memory` and of its ``masks`` part, and the rows of the
    vocabulary's shared store of masks (``MaskRows``; absent before it existed)."""
    base = rss()
    matchers: list[TypedgenMatcher] = []
    for _, case in cases:
        with contextlib.suppress(SchemaError):
            matchers.append(TypedgenMatcher(case["schema"], bench.vocab, None))

    def figures() -> dict[str, int]:
        rows = getattr(matchers[0].guide, "mask_rows", None) if matchers else None
        return {
            "rss": rss() - base,
            "memory": sum(m.guide.memory for m in matchers),
            "masks": sum(m.guide.memory_usage()["masks"] for m in matchers),
            "rows": -1 if rows is None else rows.memory_usage()["rows"],
            "distinct": -1 if rows is None else len(rows),
        }

    result: dict[str, Any] = {"guides": len(matchers), "first mask": figures()}
    rng = random.Random(0)
    for matcher in matchers:
        for _ in range(bench.args.walks):
            bench.walk(matcher, rng)
    result[f"{bench.args.walks} walks"] = figures()
    return result


def print_memory(
    bench: Bench, by_subset: dict[str, list[tuple[str, dict[str, Any]]]], subsets: list[str]
) -> None:
    """The ``--memory`` table: one row per subset and moment (MB = 10^6 bytes)."""
    body = []
    for subset in subsets:
        cases = by_subset[subset][: bench.args.limit]
        # a schema whose compilation passes --timeout would stall the others: left out
        cases = [c for c in cases if in_child(bench.args.timeout, _compiles, bench, c[1])]
        data = in_child(bench.args.timeout * len(cases), measure_memory, bench, cases)
        if data is None:
            body.append([subset, "-", "timeout or crash", "", "", "", "", ""])
            continue
        for moment, f in data.items():
            if moment == "guides":
                continue
            body.append(
                [
                    subset,
                    f"{data['guides']}/{len(by_subset[subset][: bench.args.limit])}",
                    moment,
                    f"{f['rss'] / 1e6:.0f}",
                    f"{f['memory'] / 1e6:.1f}",
                    f"{f['masks'] / 1e6:.1f}",
                    "-" if f["rows"] < 0 else f"{f['rows'] / 1e6:.1f}",
                    "-" if f["distinct"] < 0 else str(f["distinct"]),
                ]
            )
    print(
        table(
            [
                "subset",
                "guides",
                "held after",
                "RSS growth MB",
                "sum Guide.memory MB",
                "sum masks MB",
                "shared rows MB",
                "distinct masks",
            ],
            body,
        )
    )


# --- driver ------------------------------------------------------------------------------------


def load_cases(data: Path, suite: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """(name, case) per subset: the MaskBench files, and each JSON-Schema-Test-Suite test group
    (the same ``schema``/``tests`` shape) when ``suite`` is present."""
    by_subset: dict[str, list[tuple[str, dict[str, Any]]]] = collections.defaultdict(list)
    for path in sorted(glob.glob(str(data / "*.json"))):
        case = json.loads(Path(path).read_text(encoding="utf-8"))
        by_subset[subset_of(path)].append((Path(path).name, case))
    for path in sorted(glob.glob(str(suite / "*.json"))):
        for index, group in enumerate(json.loads(Path(path).read_text(encoding="utf-8"))):
            by_subset[SUITE_SUBSET].append((f"{Path(path).stem}#{index}", group))
    return by_subset


def subset_of(path: str) -> str:
    name = os.path.basename(path)
    if "---" in name:
        return name.split("---")[0]
    return name.split("_")[0]  # BFCL_<kind>_<n>.json, JME_<n>.json


def _refs(node: Any) -> list[str]:
    """Local ``$ref`` targets (JSON pointers) under ``node``."""
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            found.append(ref[1:])
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def _resolve(schema: Any, pointer: str) -> Any:
    node = schema
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def recursive(schema: Any) -> bool:
    """Whether a local ``$ref`` cycle exists (no regex can express unbounded recursion)."""
    edges = {target: _refs(_resolve(schema, target)) for target in set(_refs(schema))}
    state: dict[str, int] = {}

    def cyclic(node: str) -> bool:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1 or (nxt not in state and cyclic(nxt)):
                return True
        state[node] = 2
        return False

    return any(node not in state and cyclic(node) for node in edges)


def _detail(engine: str, name: str, outcome: Outcome, cyclic: bool) -> str:
    """One line saying why ``engine`` does not cover schema ``name`` soundly."""
    tag = f"{engine} {name}{' (recursive)' if cyclic else ''}:"
    if not outcome.compiled:
        return f"{tag} refused: {outcome.error}"
    parts = []
    if outcome.accepted < outcome.valid:
        parts.append(
            f"{outcome.valid - outcome.accepted}/{outcome.valid} valid rejected, "
            f"e.g. {outcome.rejected[0] if outcome.rejected else '?'}"
        )
    if outcome.unsound:
        parts.append(f"{outcome.unsound} unsound walks, e.g. {outcome.examples[0]}")
    return f"{tag} {'; '.join(parts)}"


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _us(seconds: float) -> str:
    return f"{1e6 * seconds:.0f} µs"


def compare_paths(pairs: list[tuple[Outcome, Outcome]]) -> str:
    """The (typedgen-regex, typedgen-grammar) outcomes of the schemas both compile, by regex
    size: TTFM p50 of each path and how often the grammar is faster to its first mask, masks
    along the valid instances (p50, p99, mean) and the valid instances accepted."""
    body: list[list[object]] = []
    for low, high in itertools.pairwise(SIZE_BUCKETS):
        both = [(r, g) for r, g in pairs if r.compiled and g.compiled and low <= r.size < high]
        if not both:
            continue
        regex = [m for r, _ in both for m in r.masks]
        grammar = [m for _, g in both for m in g.masks]
        body.append(
            [
                f"{low:,} to {high - 1:,}",
                len(both),
                f"{1000 * statistics.median(r.ttfm for r, _ in both):.1f} ms",
                f"{1000 * statistics.median(g.ttfm for _, g in both):.1f} ms",
                sum(g.ttfm < r.ttfm for r, g in both),
                f"{_us(_quantile(regex, 0.5))} / {_us(_quantile(grammar, 0.5))}",
                f"{_us(_quantile(regex, 0.99))} / {_us(_quantile(grammar, 0.99))}",
                f"{_us(statistics.fmean(regex or [0]))} / {_us(statistics.fmean(grammar or [0]))}",
                f"{sum(r.accepted for r, _ in both)} / {sum(g.accepted for _, g in both)} "
                f"of {sum(r.valid for r, _ in both)}",
            ]
        )
    header = [
        "regex size",
        "schemas",
        "TTFM p50 regex",
        "TTFM p50 grammar",
        "grammar faster",
        "mask p50 regex / grammar",
        "mask p99",
        "mask mean",
        "valid accepted",
    ]
    only = [
        sum(r.compiled and not g.compiled for r, g in pairs),
        sum(g.compiled and not r.compiled for r, g in pairs),
    ]
    return table(header, body) + (
        f"\n\nCompiled by the regex path only: {only[0]}; by the grammar path only: {only[1]}."
    )


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--subsets", nargs="*", default=None)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument(
        "--engines", nargs="*", default=["typedgen", "xgrammar", "llguidance", "outlines_core"]
    )
    parser.add_argument("--tokenizer", default="sentencepiece-32k")
    parser.add_argument("--walks", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument(
        "--compare-paths",
        action="store_true",
        help="measure typedgen's regex and grammar paths on each schema (engines typedgen-regex "
        "typedgen-grammar) and print their times by regex size",
    )
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="measure only the recursive schemas (a $ref cycle) among the first --limit",
    )
    parser.add_argument(
        "--details",
        action="store_true",
        help="list every schema that an engine does not cover soundly, with the cause",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures of each subset here"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="instead: the memory of typedgen's guides of the first --limit schemas of each "
        "subset held together (first mask filled, then after --walks walks), a child per subset",
    )
    args = parser.parse_args()
    if args.compare_paths:
        args.engines = ["typedgen-regex", "typedgen-grammar"]
    if not args.data.is_dir():
        raise SystemExit(f"no MaskBench data at {args.data}")
    by_subset = load_cases(args.data, args.suite)
    subsets = args.subsets or sorted(by_subset)
    if args.memory:
        args.engines = ["typedgen"]
        print_memory(Bench(args), by_subset, subsets)
        return
    bench = Bench(args)
    reasons: collections.Counter[str] = collections.Counter()
    summary: list[list[object]] = []
    recursion: dict[str, int] = {}
    measured: dict[str, dict[str, dict[str, object]]] = {}
    pairs: list[tuple[Outcome, Outcome]] = []
    for subset in subsets:
        rows: dict[str, list[Outcome]] = {e: [] for e in args.engines}
        recursion[subset] = 0
        for name, case in by_subset[subset][: args.limit]:
            cyclic = recursive(case["schema"])
            recursion[subset] += cyclic
            if args.recursive and not cyclic:
                continue
            for engine in args.engines:
                outcome = measure_with_timeout(bench, engine, case)
                rows[engine].append(outcome)
                if engine in TYPEDGEN and not outcome.compiled:
                    reasons[outcome.error[:110]] += 1
                if args.details and not outcome.sound:
                    print(_detail(engine, name, outcome, cyclic), flush=True)
        if args.compare_paths:
            pairs += zip(rows["typedgen-regex"], rows["typedgen-grammar"], strict=True)
        print(f"\n### {subset} ({len(rows[args.engines[0]])} schemas)\n")
        body = []
        for engine, outcomes in rows.items():
            ttfm = [o.ttfm for o in outcomes if o.compiled]
            masks = [m for o in outcomes for m in o.masks]
            body.append(
                [
                    engine,
                    f"{100 * sum(o.compiled for o in outcomes) / max(1, len(outcomes)):.0f} %",
                    f"{100 * sum(o.sound for o in outcomes) / max(1, len(outcomes)):.0f} %",
                    f"{1000 * statistics.median(ttfm):.1f} ms" if ttfm else "-",
                    f"{_us(_quantile(masks, 0.5))} / {_us(_quantile(masks, 0.99))}",
                    f"{sum(o.accepted for o in outcomes)}/{sum(o.valid for o in outcomes)}",
                    f"{sum(o.unsound for o in outcomes)}/{sum(o.walks for o in outcomes)}",
                    str(sum(o.capped for o in outcomes)),
                    str(sum(o.path == "grammar" for o in outcomes)) if engine == "typedgen" else "",
                ]
            )
            summary.append([subset, engine, body[-1][2]])
            measured.setdefault(subset, {})[engine] = {
                "schemas": len(outcomes),
                "compiled": sum(o.compiled for o in outcomes),
                "sound": sum(o.sound for o in outcomes),
                "ttfm": ttfm,
            }
        print(
            table(
                [
                    "engine",
                    "compiled",
                    "sound coverage",
                    "TTFM p50",
                    "mask p50 / p99",
                    "valid accepted",
                    "unsound walks",
                    "walks capped",
                    "grammar path",
                ],
                body,
            )
        )
        for engine, outcomes in rows.items():
            examples = [e for o in outcomes for e in o.examples]
            if examples:
                print(f"- {engine} unsound walk: `{examples[0][:120]}`")
    if args.compare_paths:
        print("\n### typedgen's regex and grammar paths, by regex size\n")
        print(compare_paths(pairs))
    print("\n### Top refusal reasons (typedgen)\n")
    print(table(["count", "reason"], [[n, r] for r, n in reasons.most_common(15)]))
    print("\n### Recursive schemas (a $ref cycle) per subset\n")
    print(table(["subset", "recursive"], [[s, n] for s, n in recursion.items()]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"subsets": measured}))


if __name__ == "__main__":
    main()

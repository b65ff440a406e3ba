"""Extended test over the public MaskBench schemas (``../shared/data/maskbench-public``).

Skipped cleanly when the data is absent.  For a fixed sample of each subset, every schema is
compiled or refused with a :class:`SchemaError` naming its pointer; for every compiled schema no
``valid: false`` instance matches (soundness on the given instances), and valid instances that
are not matched stay rare (documented narrowings: member order, unrolling depth).  A few schemas
go all the way to a guide over a real 32k SentencePiece vocabulary.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from typedgen import SchemaError, json_schema_to_regex

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "maskbench-public"
# subset -> how many of its first PER_SUBSET schemas compile at least (the floor only goes up)
SUBSETS = {
    "Github_easy": 13,
    "Glaiveai2K": 14,
    "Kubernetes": 10,
    "Snowplow": 10,
    "JsonSchemaStore": 3,
}
PER_SUBSET = 15

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason="MaskBench data not present"),
]


def _cases(subset: str) -> list[dict[str, Any]]:
    paths = sorted(DATA.glob(f"{subset}---*.json"))[:PER_SUBSET]
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("subset", SUBSETS)
def test_sound_on_instances(subset: str) -> None:
    compiled = valid = missed = 0
    for case in _cases(subset):
        try:
            regex = re.compile(json_schema_to_regex(case["schema"]))
        except SchemaError as error:
            assert error.reason
            continue
        compiled += 1
        for test in case["tests"]:
            matched = regex.fullmatch(_dumps(test["data"])) is not None
            if not test["valid"]:
                assert not matched, (subset, case["description"], test["data"])
            else:
                valid += 1
                missed += not matched
    assert compiled >= SUBSETS[subset], compiled
    assert missed <= max(2, valid // 5), (missed, valid)


def test_guides_accept_valid_instances() -> None:
    from typedgen import Vocabulary, compile_json_schema
    from typedgen.testing import accepts_string, load_tokenizer

    vocab = Vocabulary.from_tokenizer(load_tokenizer("sentencepiece-32k"))
    checked = 0
    for case in _cases("Glaiveai2K")[:3]:
        guide = compile_json_schema(case["schema"], vocab)
        for test in case["tests"][:2]:
            text = _dumps(test["data"])
            assert accepts_string(guide, text) == bool(
                re.fullmatch(json_schema_to_regex(case["schema"]), text)
            )
            checked += 1
    assert checked > 0


RECURSIVE_SUBSETS = ["Github_easy", "Github_medium", "Github_hard", "JsonSchemaStore"]
PER_RECURSIVE_SUBSET = 4  # compiled recursive schemas with valid instances, in file order


@pytest.mark.parametrize("subset", RECURSIVE_SUBSETS)
def test_recursive_schemas_accept_their_valid_instances(subset: str) -> None:
    """On the grammar path (no depth cut), every valid instance that the depth-cut regex
    matches is accepted, and so are those it cuts off; none of the invalid ones is."""
    from typedgen import Vocabulary, compile_json_schema
    from typedgen._compiler import json_schema_path
    from typedgen._schema.values import ref_cycle
    from typedgen.testing import accepts_string

    vocab = Vocabulary.of_bytes()
    compiled = accepted = valid = 0
    for path in sorted(DATA.glob(f"{subset}---*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        schema = case["schema"]
        if not any(t["valid"] for t in case["tests"]) or ref_cycle(schema) is None:
            continue
        try:
            guide = compile_json_schema(schema, vocab)
        except SchemaError as error:  # refusals are counted by benchmarks/bench_schemas.py
            assert error.reason
            continue
        assert json_schema_path(schema)[0] == "grammar"
        try:
            regex: re.Pattern[str] | None = re.compile(json_schema_to_regex(schema))
        except SchemaError:
            regex = None
        for test in case["tests"]:
            text = _dumps(test["data"])
            ok = accepts_string(guide, text)
            if not test["valid"]:
                assert not ok, (path.name, text)
                continue
            valid += 1
            accepted += ok
            if regex is not None and regex.fullmatch(text):
                assert ok, (path.name, text)  # the grammar only drops the depth cut
        compiled += 1
        if compiled == PER_RECURSIVE_SUBSET:
            break
    assert compiled == PER_RECURSIVE_SUBSET
    assert valid - accepted <= max(2, valid // 4), (accepted, valid)  # member order narrowing

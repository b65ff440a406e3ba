"""The official JSON-Schema-Test-Suite (draft 2020-12) against :func:`json_schema_to_regex`.

For every schema that compiles, every ``valid: true`` instance (written compactly, as typedgen
writes JSON) must match the regex and no ``valid: false`` instance may.  The few valid instances
that typedgen's documented narrowings do not produce are listed in ``NARROWED`` with the reason;
every schema that is refused must be refused with a :class:`SchemaError` naming a keyword.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from typedgen import SchemaError, json_schema_to_regex

SUITE = Path(__file__).parent / "data" / "json-schema-test-suite"
FILES = sorted(p.name for p in SUITE.glob("*.json"))

# (file, case description, test description) -> why the valid instance is not produced
NARROWED: dict[tuple[str, str, str], str] = {
    ("allOf.json", "allOf", "allOf"): "members are written in schema order",
    ("allOf.json", "allOf with base schema", "valid"): "members are written in schema order",
    (
        "const.json",
        "const with object",
        "same object with different property order is valid",
    ): "members are written in schema order",
    (
        "dependentRequired.json",
        "single dependency",
        "with dependency",
    ): "members are written in schema order",
    (
        "dependentRequired.json",
        "multiple dependents required",
        "with dependencies",
    ): "members are written in schema order",
    (
        "dependentRequired.json",
        "dependencies with escaped characters",
        "quoted quotes",
    ): "members are written in schema order",
    ("oneOf.json", "oneOf", "second oneOf valid"): "'not an integer' is narrowed to non-numbers",
    (
        "type.json",
        "integer type matches integers",
        "a float with zero fractional part is an integer",
    ): "integers are written without a fraction",
    (
        "uniqueItems.json",
        "uniqueItems=false validation",
        "unique array of nested objects is valid",
    ): "'any value' is unrolled to max_depth levels",
    (
        "uniqueItems.json",
        "uniqueItems=false validation",
        "non-unique array of nested objects is valid",
    ): "'any value' is unrolled to max_depth levels",
    (
        "vocabulary.json",
        "schema that uses custom metaschema with with no validation vocabulary",
        "no validation: invalid number, but it still validates",
    ): "custom meta-schemas are not interpreted",
}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _narrowed(name: str, case: dict[str, Any], test: dict[str, Any]) -> bool:
    if (name, case["description"], test["description"]) in NARROWED:
        return True
    # format is asserted (not only annotated), unevaluated* is applied as additional*/items
    return ("is only an annotation" in test["description"]) or name.startswith("unevaluated")


@pytest.mark.parametrize("name", FILES)
def test_suite_file(name: str) -> None:
    compiled = 0
    for case in json.loads((SUITE / name).read_text(encoding="utf-8")):
        try:
            regex = json_schema_to_regex(case["schema"])
        except SchemaError as error:
            assert error.reason
            if all(not t["valid"] for t in case["tests"]):
                continue  # a schema without instances is refused, correctly
            assert error.keyword is not None or "no JSON value" in error.reason, error
            continue
        compiled += 1
        pattern = re.compile(regex)
        for test in case["tests"]:
            text = _dumps(test["data"])
            matched = pattern.fullmatch(text) is not None
            if test["valid"] and not _narrowed(name, case, test):
                assert matched, (case["description"], test["description"], text)
            if not test["valid"]:
                assert not matched, (case["description"], test["description"], text)
    if name in {
        "type.json",
        "properties.json",
        "required.json",
        "enum.json",
        "anyOf.json",
        "allOf.json",
        "minimum.json",
        "maximum.json",
        "items.json",
        "ref.json",
        "additionalProperties.json",
        "const.json",
        "oneOf.json",
        "pattern.json",
    }:
        assert compiled > 0


def test_suite_coverage() -> None:
    """A floor on how much of the suite compiles (the count only goes up)."""
    total = compiled = 0
    for name in FILES:
        for case in json.loads((SUITE / name).read_text(encoding="utf-8")):
            total += 1
            try:
                json_schema_to_regex(case["schema"])
            except SchemaError:
                continue
            compiled += 1
    assert compiled / total >= 0.65, (compiled, total)

"""What a typed function shows the model: its task, its arguments and the answer's shape.

The default prompt (:func:`default_prompt`) is one user message::

    Extract the invoice details from the text.

    text: Invoice INV-2041 from Northwind Supplies, issued on 2024-03-15. ...

    Answer with JSON that follows this JSON Schema: {"properties": {"invoice_number": ...

The schema is the one the constraint enforces, without its ``title`` annotations (small models
copy titles into their answers: ``"title": "Invoice"``). :func:`fields_prompt` describes the
answer in a few words per field instead (:func:`describe`: types, formats, bounds, choices,
descriptions). On the default model, with typed functions' default whitespace, the schema gets
more fields right (``benchmarks/bench_extraction.py --prompts schema,fields,...`` measures the
forms that were tried).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Message", "PromptForm", "Task", "default_prompt", "describe", "fields_prompt"]

Message = Mapping[str, str]
"""A chat message: ``{"role": "user" | "assistant" | "system", "content": ...}``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    """What a prompt is made of: the typed function's docstring (``instruction``), the call's
    arguments by parameter name (defaults applied), the return annotation and its JSON Schema
    (the one the constraint enforces)."""

    instruction: str
    arguments: Mapping[str, Any]
    return_type: Any
    schema: Mapping[str, Any]


PromptForm = Callable[[Task], Sequence[Message]]
"""A prompt form: the chat messages for a call (rendered through the model's chat template; a
model without one gets the messages' contents, one paragraph each)."""


def default_prompt(task: Task) -> list[Message]:
    """The default prompt form: one user message with the instruction, the arguments (strings
    as they are, other values as JSON) and the answer's JSON Schema (titles left out)."""
    schema = json.dumps(_without_titles(task.schema))
    return _ask(task, f"Answer with JSON that follows this JSON Schema: {schema}")


def fields_prompt(task: Task) -> list[Message]:
    """The instruction, the arguments and :func:`describe` of the answer (its fields in words
    rather than its JSON Schema)."""
    return _ask(task, f"Answer with {describe(task.schema)}")


def _ask(task: Task, answer: str) -> list[Message]:
    lines = [task.instruction, ""]
    for name, value in task.arguments.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"{name}: {shown}")
    lines += ["", answer]
    return [{"role": "user", "content": "\n".join(lines)}]


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_DATA = frozenset({"enum", "const", "default", "examples"})  # JSON values, not schemas


def _without_titles(schema: Any) -> Any:
    """``schema`` without its ``title`` annotations; property names called ``title`` and JSON
    values (``enum``, ``default``, ...) are kept."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    return {
        key: (
            {name: _without_titles(sub) for name, sub in value.items()}
            if key in _SCHEMA_MAPS and isinstance(value, Mapping)
            else value
            if key in _DATA
            else _without_titles(value)
        )
        for key, value in schema.items()
        if key != "title"
    }


def describe(schema: Mapping[str, Any]) -> str:
    """The JSON value ``schema`` accepts, in words: a phrase, then one ``- "key": ...`` line per
    property of an object (nested objects indented under their key), each with its
    ``description`` in parentheses (the top object's own after ``a JSON object``). Keywords
    without a short wording (``pattern``, ``not``, ...) are left to the constraint."""
    return _Describer(schema).phrase(schema, 0)


_FORMATS = {
    "date": "a date (YYYY-MM-DD)",
    "date-time": "a date and time (YYYY-MM-DDTHH:MM:SS)",
    "time": "a time (HH:MM:SS)",
    "duration": "a duration (ISO 8601, like P1DT2H)",
    "email": "an email address",
    "uuid": "a UUID",
    "uri": "a URI",
}
_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
    "object": "an object",
    "array": "a list",
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Describer:
    root: Mapping[str, Any]
    path: frozenset[str] = frozenset()  # the $refs being described around this node

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """``node`` with its local ``$ref`` replaced by the definition (siblings kept)."""
        ref = node.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/")):
            return node
        target: Any = self.root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **siblings} if isinstance(target, Mapping) else siblings

    def phrase(self, node: Any, depth: int) -> str:
        """``node`` in words; an object's keys follow as indented lines."""
        if not isinstance(node, Mapping):
            return "any JSON value" if node is True else "nothing"
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in self.path:
                return "the same shape as above"
            inner = _Describer(self.root, self.path | {ref})
            return inner.phrase(self.resolve(node), depth)
        if "const" in node:
            return json.dumps(node["const"])
        if "enum" in node:
            return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                return " or ".join(self.phrase(option, depth) for option in node[key])
        kind = node.get("type")
        if isinstance(kind, list):
            return " or ".join(self.phrase({**node, "type": k}, depth) for k in kind)
        if kind == "object" or "properties" in node:
            return self.object(node, depth)
        if kind == "array" or "items" in node or "prefixItems" in node:
            return self.array(node, depth)
        if kind == "string" and node.get("format") in _FORMATS:
            return _FORMATS[node["format"]]
        if kind in ("integer", "number"):
            return _TYPES[kind] + _bounds(node)
        return _TYPES.get(kind, "a value") if isinstance(kind, str) else "any JSON value"

    def object(self, node: Mapping[str, Any], depth: int) -> str:
        properties = node.get("properties") or {}
        extra = node.get("additionalProperties")
        if not properties:
            if isinstance(extra, Mapping):
                return f"an object whose values are each {self.phrase(extra, depth)}"
            return "an object"
        about = _note(node) if depth == 0 else ""
        lines = [f"a JSON object{about} with these keys:" if depth == 0 else "an object with keys:"]
        indent = "    " * depth
        for name, sub in properties.items():
            note = _note(self.resolve(sub) if isinstance(sub, Mapping) else sub)
            head, nested, rest = self.phrase(sub, depth + 1).partition("\n")
            if nested:  # "an object with keys (note):" then the keys
                head = head.removesuffix(":") + note + ":"
            lines.append(f'{indent}- "{name}": {head}{"" if nested else note}{nested}{rest}')
        return "\n".join(lines)

    def array(self, node: Mapping[str, Any], depth: int) -> str:
        prefix = node.get("prefixItems")
        if isinstance(prefix, list):
            return "a list of " + ", then ".join(self.phrase(item, depth) for item in prefix)
        item = self.phrase(node.get("items", True), depth)
        plural = None if "\n" in item else _plural(item)
        return f"a list, each item {item}" if plural is None else f"a list of {plural}"


def _note(node: Any) -> str:
    """`` (description)`` of a schema that has one, else ``""``."""
    if isinstance(node, Mapping) and isinstance(node.get("description"), str):
        return " (" + " ".join(node["description"].split()).rstrip(".") + ")"
    return ""


def _bounds(node: Mapping[str, Any]) -> str:
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _plural(phrase: str) -> str | None:
    """``strings`` for ``a string``, ``dates (YYYY-MM-DD)`` for ``a date (YYYY-MM-DD)``; None
    for a phrase without an article (``one of ...``, ``true or false``)."""
    for article in ("a ", "an "):
        if phrase.startswith(article) and " or " not in phrase:
            head, _, rest = phrase[len(article) :].partition(" ")
            return f"{head}s {rest}".rstrip()
    return None

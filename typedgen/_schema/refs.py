"""``$ref`` resolution: local JSON pointers and anchors of one root schema, and which targets
can reach themselves (the cycles that the regex path unrolls and the grammar path makes rules).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from typedgen._errors import SchemaError, escape_pointer_token

__all__ = ["Refs"]


@dataclass
class Refs:
    """The references of one root schema (shared by every compiler of that root)."""

    root: Mapping[str, Any] | bool
    # $ref target -> whether it can reach itself through $refs
    recursion: dict[str, bool] = field(default_factory=dict)

    def recursive(self, target: Any, target_pointer: str) -> bool:
        """Whether the subschema ``target`` can reach itself through ``$ref``s (only those are
        unrolled and counted; a subschema used again inside itself without a cycle is not)."""
        if target_pointer not in self.recursion:
            seen = {target_pointer}
            stack = [target]
            found = False
            while stack and not found:
                for node, node_pointer in self._refs_under(stack.pop()):
                    found = node_pointer == target_pointer
                    if found:
                        break
                    if node_pointer not in seen:
                        seen.add(node_pointer)
                        stack.append(node)
            self.recursion[target_pointer] = found
        return self.recursion[target_pointer]

    def cycle(self) -> str | None:
        """The pointer of a ``$ref`` target that the root reaches (from outside its ``$defs``)
        and that reaches itself again, or ``None``: a recursion that the regex path cuts at
        ``max_depth`` and a grammar need not cut."""
        root: Any = self.root
        if isinstance(root, Mapping):  # definitions are reached through the $refs to them only
            root = {k: v for k, v in root.items() if k not in ("$defs", "definitions")}
        reached: set[str] = set()
        stack = [root]
        while stack:
            for target, pointer in self._refs_under(stack.pop()):
                if self.recursive(target, pointer):
                    return pointer
                if pointer not in reached:
                    reached.add(pointer)
                    stack.append(target)
        return None

    def _refs_under(self, node: Any) -> Iterator[tuple[Any, str]]:
        """The targets of the ``$ref``s anywhere in ``node`` (unresolvable ones skipped: they
        are refused where they are used)."""
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            target: tuple[Any, str] | None = None
            if isinstance(ref, str):
                try:
                    target = self.resolve(ref, "")
                except SchemaError:
                    target = None
            if target is not None:
                yield target
            for value in node.values():
                if isinstance(value, (Mapping, list)):
                    yield from self._refs_under(value)
        elif isinstance(node, list):
            for value in node:
                if isinstance(value, (Mapping, list)):
                    yield from self._refs_under(value)

    def resolve(self, ref: Any, pointer: str) -> tuple[Any, str]:
        """The subschema ``ref`` names and its pointer; :class:`SchemaError` (at ``pointer``)
        for a reference that is not local or does not resolve."""
        if not isinstance(ref, str):
            raise SchemaError("$ref must be a string", pointer=pointer, keyword="$ref")
        base, _, fragment = ref.partition("#")
        root_id = self.root.get("$id", "") if isinstance(self.root, Mapping) else ""
        if base and base != str(root_id).partition("#")[0]:
            raise SchemaError(
                f"only local references are supported, not {ref!r}",
                pointer=pointer,
                keyword="$ref",
            )
        fragment = unquote(fragment)
        if fragment and not fragment.startswith("/"):
            found = find_anchor(self.root, fragment, "")
            if found is None:
                raise SchemaError(f"anchor {ref!r} not found", pointer=pointer, keyword="$ref")
            return found
        node: Any = self.root
        for raw in fragment.split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaError(
                    f"reference {ref!r} does not resolve", pointer=pointer, keyword="$ref"
                )
        return node, fragment

    # ----- own keywords of one schema object


def find_anchor(node: Any, name: str, pointer: str) -> tuple[Any, str] | None:
    if isinstance(node, Mapping):
        if (
            node.get("$anchor") == name
            or node.get("$id") == f"#{name}"
            or node.get("id") == f"#{name}"
        ):
            return node, pointer
        children: Iterator[tuple[str, Any]] = iter(node.items())
    elif isinstance(node, list):
        children = ((str(i), v) for i, v in enumerate(node))
    else:
        return None
    for key, child in children:
        found = find_anchor(child, name, f"{pointer}/{escape_pointer_token(key)}")
        if found is not None:
            return found
    return None

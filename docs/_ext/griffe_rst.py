"""Griffe extension for the API reference: read typedgen's reST-flavoured docstrings as Markdown.

typedgen's docstrings use Sphinx roles (``:class:`~typedgen.Guide```) and ``::`` before literal
blocks. This turns each role into an optional cross-reference (a link where the target is
documented on the site, plain code elsewhere, never a broken link) and ``::`` into ``:`` (the
indented block that follows is already a Markdown code block).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(?P<target>[^`]+)`")
_LITERAL_MARK = re.compile(r"::$", re.MULTILINE)


def _reference(match: re.Match[str], module: str) -> str:
    target = match["target"].strip()
    short = target.startswith("~")
    target = target.lstrip("~").strip(".")
    title = target.rsplit(".", 1)[-1] if short else target
    identifier = target if "." in target else f"{module}.{target}"
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


class RstRoles(griffe.Extension):
    """Rewrite the roles and literal-block marks of every docstring griffe reads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        module = obj.module.path
        text = _ROLE.sub(lambda match: _reference(match, module), docstring.value)
        docstring.value = _LITERAL_MARK.sub(":", text)

"""Constrained generation: ``text``, ``regex``, ``json``, ``choice``, ``format``, ``cfg``.

Each function takes a model and a constraint and returns a :class:`Generator`; calling it with
a prompt (or a list of prompts) generates and returns validated results::

    model = typedgen.models.default()
    age = typedgen.generate.format(model, int)("Age of the universe in Gyr: ", max_tokens=8)
"""

from typedgen.generate._api import cfg, choice, format, json, regex, text
from typedgen.generate._generator import Chunk, Generator

__all__ = ["Chunk", "Generator", "cfg", "choice", "format", "json", "regex", "text"]

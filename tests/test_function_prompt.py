"""The schema shown in a typed function's prompt drops ``title`` annotations, nothing else."""

from __future__ import annotations

from typedgen._function import _without_titles


def test_titles_are_dropped_but_properties_named_title_and_data_are_kept() -> None:
    schema = {
        "title": "Book",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "kind": {"enum": [{"title": "kept"}], "default": {"title": "kept"}},
        },
        "$defs": {"Author": {"title": "Author", "anyOf": [{"title": "A", "type": "null"}]}},
    }
    assert _without_titles(schema) == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "kind": {"enum": [{"title": "kept"}], "default": {"title": "kept"}},
        },
        "$defs": {"Author": {"anyOf": [{"type": "null"}]}},
    }

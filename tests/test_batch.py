"""Batch jobs without an engine: the inputs of ``python -m typedgen extract``, its output rows,
resuming a cut output file, and the usage errors that stop a run before it starts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pydantic
import pytest

import typedgen
from typedgen import _batch
from typedgen.__main__ import main


@dataclasses.dataclass
class Pet:
    name: str
    legs: int


def test_text_files_and_json_lines_become_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Tom the cat.\n", encoding="utf-8")
    lines = tmp_path / "b.jsonl"
    lines.write_text('{"id": 7, "body": "Ann the spider."}\n\n{"id": "x", "body": "Rex."}\n')
    assert _batch.read_inputs([tmp_path / "a.txt"]) == [
        _batch.Input(str(tmp_path / "a.txt"), "Tom the cat.\n")
    ]
    assert _batch.read_inputs([lines], field="body") == [
        _batch.Input(f"{lines}:1", "Ann the spider."),
        _batch.Input(f"{lines}:3", "Rex."),
    ]
    by_id = _batch.read_inputs([lines], field="body", id_field="id")
    assert [item.id for item in by_id] == [7, "x"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"body": "a"}\nnot json\n', r"b\.jsonl:2: not a JSON line"),
        ('{"text": "a"}\n', r"b\.jsonl:1: no string field 'body'"),
        ('{"body": 3}\n', r"b\.jsonl:1: no string field 'body'"),
    ],
)
def test_an_unreadable_json_line_is_refused_with_its_place(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "b.jsonl").write_text(content)
    with pytest.raises(typedgen.UsageError, match=message):
        _batch.read_inputs([tmp_path / "b.jsonl"], field="body")


def test_ids_must_be_unique_and_plain(tmp_path: Path) -> None:
    lines = tmp_path / "b.jsonl"
    lines.write_text('{"id": 1, "body": "a"}\n{"id": 1, "body": "b"}\n')
    with pytest.raises(typedgen.UsageError, match="input id 1 occurs twice"):
        _batch.read_inputs([lines], field="body", id_field="id")
    lines.write_text('{"id": [1], "body": "a"}\n')
    with pytest.raises(typedgen.UsageError, match="must be a string or an integer"):
        _batch.read_inputs([lines], field="body", id_field="id")
    with pytest.raises(typedgen.UsageError, match="occurs twice"):
        _batch.read_inputs([lines, lines])


def test_output_rows_hold_the_record_or_the_error_and_raw_text() -> None:
    adapter = pydantic.TypeAdapter(Pet)
    assert _batch.output_row(Pet("Tom", 4), adapter) == {
        "record": {"name": "Tom", "legs": 4},
        "error": None,
        "raw_text": None,
    }
    error = typedgen.TruncatedGenerationError("cut", text='{"name": "To', finish_reason="length")
    row = _batch.output_row(typedgen.Failure(0, "text", error), adapter)
    assert row == {
        "record": None,
        "error": f"TruncatedGenerationError: {error}",
        "raw_text": '{"name": "To',
    }


def test_resume_reads_the_finished_rows_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert _batch.Output.resume(out) == {}
    rows = [
        {"id": "a", "record": {"name": "Tom", "legs": 4}, "error": None},
        {"id": 2, "record": None, "error": "GenerationError: no", "raw_text": "{"},
    ]
    whole = "".join(json.dumps(row) + "\n" for row in rows)
    out.write_text(whole + '{"id": "c", "rec')
    assert _batch.Output.resume(out) == {"a": False, 2: True}
    assert out.read_text() == whole
    out.write_text(whole + "[1, 2]\n")
    with pytest.raises(typedgen.UsageError, match=r"out\.jsonl:3: not an output row"):
        _batch.Output.resume(out)


def test_usage_errors_stop_the_command_before_any_model_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "a.txt"
    text.write_text("Tom the cat.")
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "x", "record": 1, "error": null}\n')
    cases = [
        (["--type", "tests.nowhere:Pet", str(text)], "--type tests.nowhere:Pet: No module"),
        (["--type", "Pet", str(text)], "--type must be module:Type"),
        (["--type", "json:JSONDecoder", "-o", str(out), str(text)], "pass --resume"),
        (["--type", "json:JSONDecoder", "--resume", str(text)], "--resume needs --output"),
        (["--type", "json:JSONDecoder", "--id-field", "id", str(text)], "--id-field needs"),
    ]
    for argv, message in cases:
        assert main(["extract", *argv]) == 2
        assert message in capsys.readouterr().err
    assert out.read_text() == '{"id": "x", "record": 1, "error": null}\n'  # left alone

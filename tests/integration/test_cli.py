"""``python -m typedgen extract`` on a real engine (the tiny random-weight model): a run that is
interrupted, then resumed, ends with exactly one row per input, without redoing finished ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from typedgen.__main__ import main

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

pytest.importorskip("vllm")

TYPES = """
from typing import Annotated

import pydantic


class Pet(pydantic.BaseModel):
    name: Annotated[str, pydantic.StringConstraints(max_length=8)]
    legs: Annotated[int, pydantic.Field(ge=0, le=8)]
"""


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_interrupted_run_resumes_with_each_input_once(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pets_types.py").write_text(TYPES)
    inputs = tmp_path / "pets.jsonl"
    texts = [f"Pet number {i} is a cat called Tom{i} with {i % 5} legs." for i in range(40)]
    texts[3] = "word " * 3000  # longer than the model's context: the engine refuses it
    inputs.write_text("".join(json.dumps({"n": i, "body": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    argv = ["extract", "--type", "pets_types:Pet", "--field", "body", "--id-field", "n"]
    argv += ["--model", str(tiny_model_dir), "--max-tokens", "24", "--enforce-eager"]
    argv += ["--output", str(out)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))

    # A first run, one record at a time, interrupted (Ctrl-C) once some rows are written. The
    # run gets SIGINT's default action, as in a terminal: a suite started in the background by a
    # shell without job control inherits SIGINT ignored, and so would the run (Python then
    # leaves it ignored, and the run goes on to its end). A handled signal is reset at exec.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        first = subprocess.Popen(
            [sys.executable, "-m", "typedgen", *argv, "--batch-size", "1", str(inputs)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 300
    while not (out.exists() and out.read_text().count("\n") >= 2):
        assert first.poll() is None, first.communicate()[1]
        assert time.monotonic() < deadline, "no rows after 300 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Exception ignored" not in stderr  # the engine was shut down, not left to exit
    before = rows(out)  # whole rows only
    assert 2 <= len(before) < len(texts)
    # A kill during a write leaves a torn last line: the resumed run drops it.
    with out.open("a") as handle:
        handle.write('{"id": 39, "record": {"na')

    monkeypatch.syspath_prepend(str(tmp_path))
    status = main([*argv, "--resume", "--batch-size", "8", "--no-progress", str(inputs)])

    after = rows(out)
    assert after[: len(before)] == before  # finished rows kept, not redone
    assert sorted(row["id"] for row in after) == list(range(len(texts)))  # each input once
    refused = next(row for row in after if row["id"] == 3)
    assert refused["record"] is None and "ModelError" in str(refused["error"])
    assert refused["raw_text"] == ""
    for row in after:
        if row["id"] != 3:
            assert row["error"] is None and row["raw_text"] is None
            record = row["record"]
            assert isinstance(record, dict) and set(record) == {"name", "legs"}
    assert status == 1  # one input failed; its row says why


def test_a_finished_run_exits_0_and_shuts_the_engine_down(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A run whose inputs all succeed exits 0 with a row per text file on stdout and nothing
    else there (vLLM's logs go to stderr), and the engine is shut down before the interpreter
    exits: nothing on stderr says an exception was ignored then (vLLM's ``AsyncLLM.__del__``
    fails when it runs while the interpreter tears modules down)."""
    (tmp_path / "pets_types.py").write_text(TYPES)
    files = [tmp_path / f"pet{i}.txt" for i in range(2)]
    for i, path in enumerate(files):
        path.write_text(f"Pet number {i} is a dog called Rex{i} with 4 legs.")
    argv = ["extract", "--type", "pets_types:Pet", "--model", str(tiny_model_dir)]
    argv += ["--max-tokens", "24", "--enforce-eager", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    env.pop("VLLM_LOGGING_STREAM", None)
    run = subprocess.run(
        [sys.executable, "-m", "typedgen", *argv, *map(str, files)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "Exception ignored" not in run.stderr, run.stderr
    written = [json.loads(line) for line in run.stdout.splitlines()]  # only JSON lines there
    assert sorted(row["id"] for row in written) == sorted(str(path) for path in files)
    assert all(row["error"] is None for row in written)

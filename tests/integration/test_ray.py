"""``typedgen.ray`` on a local Ray cluster of one node (two CPUs) with the tiny random-weight
model: JSON lines in, Parquet and JSON lines out, every input row once, each either a validated
record or its error and raw text."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

pytest.importorskip("vllm")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

TYPES = """
from typing import Annotated

import pydantic


class Pet(pydantic.BaseModel):
    name: Annotated[str, pydantic.StringConstraints(max_length=8)]
    legs: Annotated[int, pydantic.Field(ge=0, le=8)]
"""


@pytest.fixture(scope="module")
def pet_type(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The target type, in a module that the driver and Ray's workers import."""
    folder = tmp_path_factory.mktemp("ray-types")
    (folder / "ray_pets.py").write_text(TYPES)
    sys.path.insert(0, str(folder))
    path = os.pathsep.join(sys.path)  # typedgen (this checkout) and the type, on the workers
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=128 * 1024**2,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        import ray_pets

        yield ray_pets.Pet
    finally:
        ray.shutdown()
        sys.path.remove(str(folder))
        sys.modules.pop("ray_pets", None)


def test_every_row_comes_out_once_as_a_record_or_an_error(
    pet_type: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import typedgen.ray

    texts = [f"Pet {i} is a cat called Tom{i} with {i % 5} legs." for i in range(10)]
    texts[3] = "word " * 3000  # longer than the model's context: vLLM refuses it
    source = tmp_path / "pets.jsonl"
    source.write_text("".join(json.dumps({"n": i, "text": t}) + "\n" for i, t in enumerate(texts)))

    rows = typedgen.ray.extract(
        ray.data.read_json(str(source)),
        pet_type,
        model=tiny_model_dir,
        max_tokens=24,
        batch_size=4,
        num_cpus=1,
        dtype="float32",
        max_model_len=1024,
        enforce_eager=True,
        seed=0,
    ).materialize()
    rows.write_parquet(str(tmp_path / "parquet"))
    rows.write_json(str(tmp_path / "jsonl"))

    import pyarrow.parquet

    table = pyarrow.parquet.read_table(str(tmp_path / "parquet"))  # one schema for every file
    assert {
        name: str(table.schema.field(name).type) for name in ("record", "error", "raw_text")
    } == {
        "record": "string",
        "error": "string",
        "raw_text": "string",
    }
    from_json = [
        json.loads(line)
        for part in sorted((tmp_path / "jsonl").iterdir())
        for line in part.read_text().splitlines()
    ]
    adapter = pydantic.TypeAdapter(pet_type)
    for written in (table.to_pylist(), from_json):
        assert sorted(row["n"] for row in written) == list(range(len(texts)))
        for row in written:
            assert row["text"] == texts[row["n"]]  # the input's columns are kept
            if row["n"] == 3:
                assert row["record"] is None and row["error"].startswith("ModelError: ")
                assert row["raw_text"] == ""
            else:
                assert row["error"] is None and row["raw_text"] is None
                assert isinstance(adapter.validate_json(row["record"]), pet_type)

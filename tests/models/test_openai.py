"""``typedgen.models.openai`` without a server: import hygiene, refusals made on the client,
and a server that cannot be reached (the tests with a real ``vllm serve`` are in
``tests/integration/test_server.py``)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import typedgen
from typedgen.testing import VLLMServer

pytest.importorskip("openai")


def test_importing_typedgen_models_does_not_import_openai() -> None:
    code = (
        "import sys, typedgen, typedgen.models, typedgen.testing\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'openai')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once the socket is closed


@pytest.fixture
def unreachable() -> Any:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with typedgen.models.openai(url, "some-model", max_retries=0) as model:
        yield model


def test_options_are_checked() -> None:
    with pytest.raises(typedgen.UsageError, match="max_concurrency"):
        typedgen.models.openai("http://127.0.0.1:1/v1", "m", max_concurrency=0)


def test_an_unreachable_server_is_a_server_error(unreachable: Any) -> None:
    pytest.importorskip("vllm")
    generator = typedgen.generate.regex(unreachable, r"[0-9]+")
    with pytest.raises(typedgen.ServerError, match="failed") as error:
        generator("n", max_tokens=4)
    assert error.value.status is None
    with pytest.raises(typedgen.ServerError):
        unreachable.render_chat([{"role": "user", "content": "hi"}])


def test_parameters_that_cannot_travel_are_refused_before_sending(unreachable: Any) -> None:
    vllm = pytest.importorskip("vllm")
    with pytest.raises(typedgen.ModelError, match=r"\['logprobs'\]"):
        unreachable.generate(["n"], [vllm.SamplingParams(logprobs=1)])
    nested = vllm.SamplingParams(extra_args={"mine": {"a": 1}})
    with pytest.raises(typedgen.ModelError, match="mine"):
        unreachable.generate(["n"], [nested])
    with pytest.raises(typedgen.ModelError, match="n == 1"):
        next(unreachable.stream("n", vllm.SamplingParams(n=2)))


@pytest.mark.vllm
def test_a_server_that_cannot_start_raises_with_its_log(tmp_path: Path) -> None:
    server = VLLMServer(tmp_path / "no-model-here", log_path=tmp_path / "server.log")
    with pytest.raises(typedgen.ModelError, match="vllm serve exited"):
        server.start()
    assert "no-model-here" in server.log()
    server.stop()  # nothing left to stop

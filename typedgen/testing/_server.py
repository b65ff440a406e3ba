"""A real vLLM OpenAI-compatible server on loopback, for tests, examples and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from typedgen._errors import ModelError
from typedgen.processors import PROCESSOR_FQCN

__all__ = ["SERVER_ARGS", "VLLMServer"]

SERVER_ARGS = ("--dtype", "float32", "--max-model-len", "1024", "--enforce-eager", "--seed", "0")
"""The default options of :class:`VLLMServer`: small and deterministic, for CPUs."""


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` (what ``vllm serve`` runs) for
    ``model`` on a free port of 127.0.0.1, with typedgen's logits processor unless
    ``processor`` is false; a context manager.

    Entering starts the server and waits (up to ``start_timeout`` seconds) until ``/health``
    answers; leaving stops it (SIGTERM to its process group, SIGKILL after 60 s).
    :class:`~typedgen.ModelError` is raised, with the end of the log, when the server exits
    or does not answer in time. ``args`` are the other command-line options (default
    :data:`SERVER_ARGS`); ``env`` is added to the environment, where the engine runs in its
    default separate process (``VLLM_ENABLE_V1_MULTIPROCESSING`` is removed) and
    ``VLLM_CPU_KVCACHE_SPACE`` defaults to 1 GiB. The server's output goes to ``log_path``
    (default: a file in a new temporary folder), kept after the server stops.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        processor: bool = True,
        args: Sequence[str] = SERVER_ARGS,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 300.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = str(model)
        """The served model's name (what requests name in ``model``)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        """The server's root (``/health``, ``/tokenize``...)."""
        self.base_url = self.url + "/v1"
        """The OpenAI API's base URL, for :func:`typedgen.models.openai` or ``openai.OpenAI``."""
        self.command = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", self.model, "--host", "127.0.0.1", "--port", str(self.port), *args,
        ]  # fmt: skip
        if processor:
            self.command += ["--logits-processors", PROCESSOR_FQCN]
        self.env = {**os.environ, **(env or {})}
        self.env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)
        self.env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="typedgen-vllm-server-")) / "server.log"
        self.log_path = Path(log_path)
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    def log(self) -> str:
        """What the server has written so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, *, wait: bool = True) -> VLLMServer:
        """Start the server and (unless ``wait`` is false: call :meth:`wait` later, e.g. to
        start several servers at once) wait until it answers."""
        if self._process is not None:
            raise ModelError("this server is already started")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its engine process is stopped with it
            )
        self._started = time.monotonic()
        return self.wait() if wait else self

    def wait(self) -> VLLMServer:
        """Wait until the started server answers on ``/health`` (``start_timeout`` seconds
        from its start)."""
        if self._process is None:
            raise ModelError("start the server before waiting for it")
        deadline = self._started + self.start_timeout
        while not self._healthy():
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise ModelError(f"vllm serve exited ({code}):\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise ModelError(
                    f"vllm serve did not answer in {self.start_timeout} s:\n{self.log()[-4000:]}"
                )
            time.sleep(1)
        return self

    def stop(self) -> None:
        """Stop the server and its engine (no-op when it is not running)."""
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, sig)

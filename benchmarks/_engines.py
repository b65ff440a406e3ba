"""What the vLLM benchmarks share: the engine set-up, the peers' request parameters, the
extraction prompts, and running one engine per backend in its own process.

vLLM fixes the structured-output backend per engine, so each benchmark runs a worker process per
backend (``xgrammar`` or ``guidance``); every worker builds the default model with typedgen's
logits processor registered (it does nothing for requests without a typedgen constraint) and
vLLM's backend configured, so typedgen, unconstrained generation and that backend share one
engine and one set of weights.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vllm import SamplingParams

    from typedgen.models import VLLM

BACKENDS = ("xgrammar", "guidance")

# float32: the default bfloat16 is emulated, several times slower, on CPUs without AVX-512 BF16.
ENGINE_KWARGS: dict[str, Any] = {
    "dtype": "float32",
    "enforce_eager": True,
    "max_model_len": 2048,
    "seed": 0,
}


def configure_environment() -> None:
    """Single-process vLLM (so the benchmark can time hooks inside the engine), offline."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_model(backend: str, *, max_num_seqs: int, compact: bool) -> VLLM:
    """The default model with typedgen's processor and vLLM's ``backend`` for structured
    outputs (``compact``: the backend's JSON without free whitespace, as typedgen's default)."""
    import typedgen

    return typedgen.models.default(
        structured_outputs_config={"backend": backend, "disable_any_whitespace": compact},
        max_num_seqs=max_num_seqs,
        **ENGINE_KWARGS,
    )


def peer_params(schema: dict[str, Any], *, max_tokens: int, compact: bool) -> SamplingParams:
    """Greedy parameters asking the engine's built-in backend for JSON of ``schema``."""
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    return SamplingParams(
        temperature=0.0,
        max_tokens=max_tokens,
        structured_outputs=StructuredOutputsParams(json=schema, disable_any_whitespace=compact),
    )


def typed_function(
    model: VLLM,
    case: Any,
    *,
    max_tokens: int,
    finish_within_budget: bool = True,
    prompt: Any = None,
    whitespace: Any = None,
) -> Any:
    """The typed function of an extraction case: ``extract(text) -> case.target`` with the case's
    instruction as its docstring (greedy, ``max_tokens``, ``finish_within_budget``, the
    ``prompt`` form and ``whitespace``, typedgen's defaults when None)."""
    import typedgen

    def extract(text: str) -> Any:
        raise NotImplementedError

    extract.__doc__ = case.instruction
    extract.__annotations__ = {"text": str, "return": case.target}
    return typedgen.fn(
        model=model,
        max_tokens=max_tokens,
        finish_within_budget=finish_within_budget,
        prompt=prompt or typedgen.default_prompt,
        whitespace=whitespace,
    )(extract)


def add_common_arguments(parser: argparse.ArgumentParser, methods: Sequence[str]) -> None:
    """The options every vLLM benchmark takes: methods, peers' whitespace, worker plumbing."""
    parser.add_argument("--methods", default=",".join(methods))
    parser.add_argument(
        "--peer-whitespace",
        choices=["compact", "any"],
        default="compact",
        help="compact: the backends' disable_any_whitespace (typedgen's default is compact too)",
    )
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)


def run_methods(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    methods: Sequence[str],
    script: str,
    options: Sequence[str],
) -> list[dict[str, Any]]:
    """Run the methods asked for with ``--methods``, one worker process per backend engine;
    typedgen (its calls and batches) and unconstrained generation run in the first (xgrammar)
    engine."""
    wanted = args.methods.split(",")
    unknown = set(wanted) - set(methods)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {list(methods)}")
    shared = {"typedgen", "batch", "unconstrained"}
    groups = [
        (backend, [m for m in wanted if m == backend or (i == 0 and m in shared)])
        for i, backend in enumerate(BACKENDS)
    ]
    options = [*options, f"--peer-whitespace={args.peer_whitespace}"]
    return run_workers(script, [g for g in groups if g[1]], options)


def run_workers(
    script: str, groups: Sequence[tuple[str, Sequence[str]]], options: Sequence[str]
) -> list[dict[str, Any]]:
    """Run ``script --worker BACKEND --methods M1,M2 OPTIONS --out FILE`` for every
    (backend, methods) group, one process after the other; returns the workers' JSON results."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for backend, methods in groups:
            out = Path(folder) / f"{backend}.json"
            command = [
                sys.executable,
                script,
                "--worker",
                backend,
                "--methods",
                ",".join(methods),
                *options,
                "--out",
                str(out),
            ]
            started = time.perf_counter()
            print(f"[{backend}] running {', '.join(methods)} ...", file=sys.stderr, flush=True)
            done = subprocess.run(command, check=False)
            if done.returncode != 0:
                raise SystemExit(f"the {backend} worker failed (exit code {done.returncode})")
            print(
                f"[{backend}] done in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            results.append(json.loads(out.read_text()))
    return results


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)

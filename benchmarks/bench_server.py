"""Typed extraction over HTTP: typedgen's constraint against vLLM's own ``response_format`` JSON
Schema (xgrammar backend), on one ``vllm serve`` on loopback, at several concurrencies.

One server (``python -m vllm.entrypoints.openai.api_server``, what ``vllm serve`` runs, started by
``typedgen.testing.VLLMServer``) serves the embedded default model with typedgen's logits
processor and ``--structured-outputs-config`` backend ``xgrammar`` with
``disable_any_whitespace`` (typedgen's JSON is compact too), ``--max-num-seqs`` the largest
concurrency. Both methods send the same ``/v1/completions`` requests: the prompt that the case's
typed function renders through the server's chat template, greedy, ``--max-tokens``, and the
case's JSON Schema (``typedgen.schema_of``), as ``vllm_xargs`` (typedgen) or as
``response_format: {"type": "json_schema", ...}`` (xgrammar). A third method, ``client``, runs
the typed functions themselves on ``typedgen.models.openai`` (prompt rendering, the request,
validation on the client).

Every schema is sent once per method, with ``max_tokens=4``, before the timed runs (compilation
in the server is not measured). Then, for each concurrency C, each method runs ``--requests``
requests (default: ``max(8, 2 C)``, cycling through the 24 cases of ``extraction_data.py``) with
at most C in flight:

* **records/s**: outputs that pydantic validates into the case's type, per second of wall time;
* **p50 / p99 latency**: from sending a request to its complete reply (the p99 of few requests
  is close to the maximum);
* **tokens/s**: output tokens (the server's ``usage``) per second; outputs of the two methods
  may differ in length, so compare records/s with it in mind.

Ratios are typedgen / xgrammar (higher is better for records/s, lower for latency). Methods
alternate order from one concurrency to the next.

Run: ``.venv/bin/python benchmarks/bench_server.py [--concurrency 1,8,32] [--requests N]
[--max-tokens 256] [--methods typedgen,xgrammar,client]``. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _engines
from extraction_data import CASES

METHODS = ("typedgen", "xgrammar", "client")


class Job:
    """One extraction case as requests: its prompt, its schema, its validator."""

    def __init__(self, model: Any, case: Any, max_tokens: int) -> None:
        import pydantic

        import typedgen
        from typedgen.processors import Constraint

        self.function = _engines.typed_function(model, case, max_tokens=max_tokens)
        self.prompt = self.function.prompt(case.text)
        schema = typedgen.schema_of(case.target)
        self.xargs = Constraint.json_schema(schema).to_extra_args()
        self.response_format = {
            "type": "json_schema",
            "json_schema": {"name": case.name, "schema": schema, "strict": True},
        }
        self.adapter = pydantic.TypeAdapter(case.target)
        self.text = case.text

    def valid(self, text: str) -> bool:
        try:
            self.adapter.validate_json(text)
        except ValueError:
            return False
        return True


async def run_method(
    method: str, jobs: list[Job], client: Any, server_model: str, *, n: int, c: int, max_tokens: int
) -> dict[str, Any]:
    """``n`` requests of ``method``, at most ``c`` at once: latencies, validity, tokens."""
    bound = asyncio.Semaphore(c)

    async def raw(job: Job, extra: dict[str, Any], tokens: int) -> tuple[bool, int]:
        reply = await client.completions.create(
            model=server_model,
            prompt=job.prompt,
            max_tokens=tokens,
            temperature=0.0,
            extra_body=extra,
        )
        return job.valid(reply.choices[0].text), reply.usage.completion_tokens

    async def through_client(job: Job, tokens: int) -> tuple[bool, int]:
        try:  # what ``await extract(text)`` of an async typed function runs
            await job.function.body.arun(job.text)
        except Exception:  # a GenerationError: not a record
            return False, 0
        return True, 0  # the client does not report token counts

    def request(job: Job, tokens: int) -> Awaitable[tuple[bool, int]]:
        if method == "typedgen":
            return raw(job, {"vllm_xargs": job.xargs}, tokens)
        if method == "xgrammar":
            return raw(job, {"response_format": job.response_format}, tokens)
        return through_client(job, tokens)

    async def one(job: Job) -> tuple[float, bool, int]:
        async with bound:
            started = time.perf_counter()
            valid, tokens = await request(job, max_tokens)
            return time.perf_counter() - started, valid, tokens

    started = time.perf_counter()
    results = await asyncio.gather(*(one(jobs[i % len(jobs)]) for i in range(n)))
    wall = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    return {
        "method": method,
        "concurrency": c,
        "requests": n,
        "valid": sum(r[1] for r in results),
        "wall": wall,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "tokens": sum(r[2] for r in results),
    }


async def warm_up(method: str, jobs: list[Job], client: Any, server_model: str) -> float:
    """Every schema once with ``max_tokens=4`` (compiled in the server); seconds taken."""
    started = time.perf_counter()
    for job in jobs:
        if method == "xgrammar":
            extra: dict[str, Any] = {"response_format": job.response_format}
        else:
            extra = {"vllm_xargs": job.xargs}
        await client.completions.create(
            model=server_model, prompt=job.prompt, max_tokens=4, extra_body=extra
        )
    return time.perf_counter() - started


def report(results: list[dict[str, Any]], methods: list[str]) -> None:
    rows = []
    by = {(r["method"], r["concurrency"]): r for r in results}
    for r in results:
        peer = by.get(("xgrammar", r["concurrency"]))
        rate = r["valid"] / r["wall"]
        ratio = "" if peer is None else f"{rate / max(peer['valid'] / peer['wall'], 1e-9):.2f}"
        lat = "" if peer is None else f"{r['p50'] / peer['p50']:.2f}"
        tokens = f"{r['tokens'] / r['wall']:.0f}" if r["tokens"] else "n/a"
        rows.append(
            [
                r["concurrency"],
                r["method"],
                f"{r['valid']}/{r['requests']}",
                f"{rate:.2f}",
                ratio,
                f"{r['p50']:.2f}",
                f"{r['p99']:.2f}",
                lat,
                tokens,
            ]
        )
    rows.sort(key=lambda row: (row[0], methods.index(row[1])))
    print(
        _engines.table(
            [
                "concurrency",
                "method",
                "valid",
                "records/s",
                "vs xgrammar",
                "p50 s",
                "p99 s",
                "p50 vs xgrammar",
                "tokens/s",
            ],
            rows,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    methods = args.methods.split(",")
    if set(methods) - set(METHODS):
        parser.error(f"choose methods from {list(METHODS)}")
    levels = [int(c) for c in args.concurrency.split(",")]

    import typedgen
    from typedgen.testing import SERVER_ARGS, VLLMServer

    structured = {"backend": "xgrammar", "disable_any_whitespace": True}
    server_args = [*SERVER_ARGS, "--max-model-len", "2048", "--max-num-seqs", str(max(levels))]
    server_args += ["--structured-outputs-config", json.dumps(structured)]
    server = VLLMServer(
        typedgen.models.default_model_path(), args=server_args, env={"HF_HUB_OFFLINE": "1"}
    )
    print("starting vllm serve ...", file=sys.stderr, flush=True)
    with (
        server,
        typedgen.models.openai(server.base_url, server.model, max_concurrency=max(levels)) as model,
    ):
        jobs = [Job(model, case, args.max_tokens) for case in CASES]
        results = asyncio.run(run_all(methods, levels, jobs, server, args))
    print(
        f"\n{len(CASES)} cases, greedy, max_tokens={args.max_tokens}, default model on one "
        "`vllm serve` (float32, eager) on loopback\n"
    )
    report(results, methods)


async def run_all(
    methods: list[str], levels: list[int], jobs: list[Job], server: Any, args: argparse.Namespace
) -> list[dict[str, Any]]:
    import openai

    results = []
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="EMPTY") as client:
        for method in methods:
            seconds = await warm_up(method, jobs, client, server.model)
            print(f"[{method}] warm-up {seconds:.1f} s", file=sys.stderr, flush=True)
        for k, c in enumerate(levels):
            order = methods if k % 2 == 0 else methods[::-1]
            n = args.requests or max(8, 2 * c)
            for method in order:
                result = await run_method(
                    method, jobs, client, server.model, n=n, c=c, max_tokens=args.max_tokens
                )
                print(
                    f"[{method}] c={c}: {result['valid']}/{n} valid in {result['wall']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                results.append(result)
    return results


if __name__ == "__main__":
    main()

"""The vLLM logits processor on a real engine: mixed batches, batch bookkeeping, min_tokens,
stop strings, request validation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import typedgen
from typedgen.processors import Constraint

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")
SamplingParams = vllm.SamplingParams


def params(constraint: Constraint | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("temperature", 1.0)
    kwargs.setdefault("max_tokens", 80)
    extra = constraint.to_extra_args() if constraint is not None else None
    return SamplingParams(extra_args=extra, **kwargs)


SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99}, "b": {"type": "boolean"}},
    "required": ["n", "b"],
    "additionalProperties": False,
}


def check(constraint: Constraint | None, text: str) -> None:
    if constraint is None:
        return
    if constraint.kind == "regex":
        assert re.fullmatch(constraint.source, text), (constraint.source, text)
    else:
        value = json.loads(text)
        assert set(value) == {"n", "b"} and 0 <= value["n"] <= 99, text


def test_mixed_batch_different_constraints(tiny_model: Any) -> None:
    """Unconstrained and differently constrained requests, n = 4 each, in one vLLM batch."""
    constraints = [
        None,
        Constraint.regex(r"[0-9]{2,4}"),
        Constraint.json_schema(SCHEMA),
        None,
        Constraint.regex(r"(red|green|blue)( (red|green|blue)){0,3}"),
    ]
    prompts = [f"Prompt number {i}:" for i in range(len(constraints))]
    outputs = tiny_model.llm.generate(
        prompts, [params(c, n=4, seed=i) for i, c in enumerate(constraints)], use_tqdm=False
    )
    assert len(outputs) == len(constraints)
    for constraint, output in zip(constraints, outputs, strict=True):
        assert len(output.outputs) == 4
        for completion in output.outputs:
            if constraint is not None:
                assert completion.finish_reason == "stop", completion
            check(constraint, completion.text)


def test_many_requests_finishing_at_different_steps(tiny_model: Any) -> None:
    """Requests leave the batch at different steps, so vLLM condenses the batch (moves rows):
    every constrained row must keep following its own request."""
    patterns = [f"[a-z]{{{1 + i % 7}}}" for i in range(24)]
    constraints: list[Constraint | None] = [
        Constraint.regex(p) if i % 3 else None for i, p in enumerate(patterns)
    ]
    outputs = tiny_model.llm.generate(
        [f"p{i}" for i in range(24)],
        [params(c, seed=i, max_tokens=4 + i) for i, c in enumerate(constraints)],
        use_tqdm=False,
    )
    for constraint, output in zip(constraints, outputs, strict=True):
        check(constraint, output.outputs[0].text)


def test_parallel_fill_and_prefetch_in_a_batch(tiny_model: Any, monkeypatch: Any) -> None:
    """Rows filled by two threads (the parallel path from the first constrained row on) while
    the background thread prefetches: every constrained output still matches."""
    from typedgen.processors.vllm import TypedgenLogitsProcessor

    monkeypatch.setattr(TypedgenLogitsProcessor, "parallel_from", 1)
    monkeypatch.setattr(TypedgenLogitsProcessor, "fill_threads", 2)
    constraints = [
        Constraint.regex(r"[a-z]{2,9}@[a-z]{2,6}\.(com|org)"),
        Constraint.json_schema(SCHEMA),
        Constraint.regex(r"(red|green|blue)( (red|green|blue)){0,3}"),
    ] * 4
    outputs = tiny_model.llm.generate(
        [f"q{i}" for i in range(len(constraints))],
        [params(c, seed=i) for i, c in enumerate(constraints)],
        use_tqdm=False,
    )
    for constraint, output in zip(constraints, outputs, strict=True):
        assert output.outputs[0].finish_reason == "stop"
        check(constraint, output.outputs[0].text)


def test_min_tokens_yields_to_a_complete_constraint(tiny_model: Any) -> None:
    """vLLM hides EOS until min_tokens; when the constraint allows only EOS, EOS is sampled
    (the output stays valid and short); while the constraint allows more, min_tokens holds."""
    only = Constraint.regex(r"(x|y)")
    more = Constraint.regex(r"[0-9]{1,30}")
    outputs = tiny_model.llm.generate(
        ["a", "b"],
        [params(only, n=4, seed=1, min_tokens=6), params(more, n=4, seed=2, min_tokens=6)],
        use_tqdm=False,
    )
    for completion in outputs[0].outputs:
        assert completion.text in ("x", "y")
        assert completion.finish_reason == "stop"
        # the letter, then EOS at once (not a token sampled from an all -inf row)
        assert len(completion.token_ids) == 2, completion.token_ids
    for completion in outputs[1].outputs:
        assert re.fullmatch(r"[0-9]{1,30}", completion.text)
        # at least min_tokens tokens, unless the 30 digits were complete earlier
        assert len(completion.token_ids) >= 6 or len(completion.text) == 30


def test_stop_strings_and_greedy(tiny_model: Any) -> None:
    constraint = Constraint.regex(r"[a-z]{3};[a-z]{3}")
    outputs = tiny_model.llm.generate(
        ["a", "b"],
        [
            params(constraint, temperature=0.0, stop=[";"]),
            params(constraint, temperature=0.0),
        ],
        use_tqdm=False,
    )
    cut = outputs[0].outputs[0]
    assert cut.finish_reason == "stop" and cut.stop_reason == ";"
    assert re.fullmatch(r"[a-z]{3}", cut.text)
    check(constraint, outputs[1].outputs[0].text)


def test_bad_constraint_is_refused_at_validation(tiny_model: Any) -> None:
    from vllm.exceptions import VLLMValidationError

    llm = tiny_model.llm
    with pytest.raises(VLLMValidationError) as info:
        llm.generate(["x"], params(Constraint.regex("a{2,1}")), use_tqdm=False)
    assert isinstance(info.value.__cause__, typedgen.RegexError)
    with pytest.raises(VLLMValidationError) as info:
        llm.generate(["x"], params(Constraint.json_schema("{oops")), use_tqdm=False)
    assert isinstance(info.value.__cause__, typedgen.SchemaError)
    bad_keys = SamplingParams(extra_args={"typedgen_regexp": "a"})
    with pytest.raises(VLLMValidationError) as info:
        llm.generate(["x"], bad_keys, use_tqdm=False)
    assert isinstance(info.value.__cause__, typedgen.UsageError)
    with pytest.raises(VLLMValidationError, match="ignore_eos"):
        llm.generate(["x"], params(Constraint.regex("a"), ignore_eos=True), use_tqdm=False)
    # the engine is unharmed
    output = llm.generate(["x"], params(Constraint.regex("[ab]{4}")), use_tqdm=False)
    assert re.fullmatch("[ab]{4}", output[0].outputs[0].text)


def test_validate_params_directly() -> None:
    from typedgen.processors.vllm import TypedgenLogitsProcessor

    TypedgenLogitsProcessor.validate_params(SamplingParams())
    TypedgenLogitsProcessor.validate_params(params(Constraint.regex("[a-z]+")))
    with pytest.raises(typedgen.RegexError):
        TypedgenLogitsProcessor.validate_params(params(Constraint.regex("(?<=a)b")))


def unvalidated_processor() -> type[Any]:
    """typedgen's processor without request validation (the engine must defend itself)."""
    from typedgen.processors.vllm import TypedgenLogitsProcessor

    class UnvalidatedProcessor(TypedgenLogitsProcessor):
        @classmethod
        def validate_params(cls, sampling_params: Any) -> None:
            return None

    return UnvalidatedProcessor


@pytest.fixture(scope="session")
def unvalidated_llm(tiny_model_dir: Any) -> Any:
    """An engine with :func:`unvalidated_processor`, kept for the whole session: destroying a
    second in-process engine tears down vLLM's process-wide parallel state, which breaks the
    shared engine of the tests that run after it."""
    return vllm.LLM(
        str(tiny_model_dir),
        logits_processors=[unvalidated_processor()],
        dtype="float32",
        max_model_len=256,
        enforce_eager=True,
    )


@pytest.mark.slow
def test_engine_survives_a_constraint_that_fails_to_compile(unvalidated_llm: Any) -> None:
    """If validation is bypassed, the engine refuses the constraint itself: that request gets
    only EOS (an empty, failed generation), the others in the batch are served normally."""
    llm = unvalidated_llm
    model = typedgen.models.VLLM(llm)
    good = Constraint.regex("[0-9]{3}")
    outputs = llm.generate(
        ["a", "b", "c"],
        [
            params(Constraint.regex("(unclosed"), n=2, seed=0),
            params(good, n=2, seed=1),
            SamplingParams(extra_args={"typedgen_regexp": "x"}, max_tokens=5),
        ],
        use_tqdm=False,
    )
    for completion in outputs[0].outputs:
        assert completion.text == "" and completion.finish_reason == "stop"
    for completion in outputs[1].outputs:
        check(good, completion.text)
    assert outputs[2].outputs[0].text == ""
    with pytest.raises(typedgen.GenerationError, match="before the constraint was complete"):
        typedgen.generate.regex(model, "[0-9]{3}").result(typedgen.models.Completion("", "stop"))

"""``RequestParams``: vLLM's ``SamplingParams`` fields, names and defaults, without vLLM."""

from __future__ import annotations

import dataclasses

import pytest

from typedgen.models import RequestParams
from typedgen.models._params import to_vllm


def test_request_params_normalise_stops_like_vllm() -> None:
    assert RequestParams(stop="x").stop == ["x"]
    assert RequestParams(stop=None, stop_token_ids=None, bad_words=None).bad_words == []


def test_clone_copies_lists_and_dicts() -> None:
    params = RequestParams(stop=["a"], extra_args={"k": "v"}, logit_bias={1: 2.0})
    copy = params.clone()
    assert copy == params
    copy.stop.append("b")
    assert copy.extra_args is not None and copy.logit_bias is not None
    copy.extra_args["k2"] = "w"
    copy.logit_bias[3] = 1.0
    assert params == RequestParams(stop=["a"], extra_args={"k": "v"}, logit_bias={1: 2.0})


@pytest.mark.vllm
def test_the_same_fields_and_defaults_as_vllm() -> None:
    vllm = pytest.importorskip("vllm")
    theirs = vllm.SamplingParams()
    for field in dataclasses.fields(RequestParams):
        assert getattr(RequestParams(), field.name) == getattr(theirs, field.name), field.name


@pytest.mark.vllm
def test_to_vllm_keeps_every_field() -> None:
    vllm = pytest.importorskip("vllm")
    ours = RequestParams(
        n=2,
        temperature=0.5,
        top_k=7,
        seed=3,
        stop="}",
        max_tokens=None,
        logit_bias={5: -1.0},
        extra_args={"typedgen_regex": "[0-9]+"},
    )
    theirs = to_vllm(ours)
    assert isinstance(theirs, vllm.SamplingParams)
    for field in dataclasses.fields(RequestParams):
        assert getattr(theirs, field.name) == getattr(ours, field.name), field.name
    assert to_vllm(theirs) is theirs

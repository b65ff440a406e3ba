"""``TYPEDGEN_REQUIRE=vllm``: a skipped vLLM test or integration module is a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

SKIPPING = {
    "integration/test_tokenizer.py": (
        "import pytest\n"
        "pytestmark = pytest.mark.vllm\n"
        "def test_a():\n"
        "    pytest.skip('tokenizer smollm2-49k is not available here')\n"
    ),
    "integration/test_module.py": (
        "import pytest\npytest.importorskip('typedgen_no_such_module')\ndef test_b(): pass\n"
    ),
    "test_markers.py": (
        "import pytest\n"
        "@pytest.mark.gpu\n"
        "@pytest.mark.vllm\n"
        "def test_gpu(): pytest.skip('no CUDA GPU on this machine')\n"
        "@pytest.mark.slow\n"
        "@pytest.mark.vllm\n"
        "def test_slow(): pass\n"
        "@pytest.mark.xfail(reason='known')\n"
        "@pytest.mark.vllm\n"
        "def test_xfail(): assert False\n"
    ),
}


def _run(pytester: pytest.Pytester, require: str | None) -> pytest.RunResult:
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makeini(
        "[pytest]\naddopts = --import-mode=importlib\n"
        "markers =\n    vllm: v\n    slow: s\n    gpu: g\n"
    )
    for name, text in SKIPPING.items():
        path = pytester.path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    env = {"TYPEDGEN_SKIP_SLOW": "1", "CUDA_VISIBLE_DEVICES": ""}
    if require is not None:
        env["TYPEDGEN_REQUIRE"] = require
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        if require is None:
            patch.delenv("TYPEDGEN_REQUIRE", raising=False)
        return pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--continue-on-collection-errors"
        )


def test_capability_skips_are_skips_by_default(pytester: pytest.Pytester) -> None:
    result = _run(pytester, None)
    result.assert_outcomes(skipped=4, xfailed=1)


def test_capability_skips_fail_when_required(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "vllm")
    if "vLLM is not installed" in result.stderr.str():
        assert result.ret != 0
        return
    # the tokenizer skip and the module skip fail; the gpu and slow markers' skips stay skips
    result.assert_outcomes(failed=1, errors=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(["TYPEDGEN_REQUIRE=vllm, but this was skipped: *tokenizer*"])
    result.stdout.fnmatch_lines(["TYPEDGEN_REQUIRE=vllm, but this was skipped: *typedgen_no_such*"])


def test_an_unknown_capability_is_refused(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "vllm,tpu")
    assert result.ret != 0
    assert "TYPEDGEN_REQUIRE: unknown capabilities ['tpu']" in result.stderr.str()

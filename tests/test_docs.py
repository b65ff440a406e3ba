"""The examples of the documentation run: every ```python block of ``docs/**/*.md`` is executed.

The convention (written for page authors in ``docs/contributing-docs.md``):

- every fenced block whose info string starts with ``python`` is executed; the blocks of one
  page run in order, in one namespace, as the module ``__main__`` (so ``if __name__ ==
  "__main__":`` guards run and classes defined on the page resolve their annotations);
- each page runs in a fresh Python subprocess, with ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` (the
  engine in-process, seconds to start), ``VLLM_CPU_KVCACHE_SPACE=1`` and the current working
  directory a fresh temporary folder (what a page writes goes there);
- a block whose first line is ``# docs: skip (<reason>)`` is not executed (for what cannot run
  here: GPUs, several nodes, files only the reader has); the reason is required;
- shell commands go in ```` ```console ```` blocks, which are not executed here; ```` ```py ````,
  ```` ```pycon ```` and ```` ```python3 ```` fences are refused, so that nothing that looks like
  runnable Python escapes the test.

A traceback names the page and its line (the code is compiled with the page's path and line
numbers). Pages whose runnable code mentions ``vllm`` or ``models`` get the ``vllm`` and ``slow``
markers, so they are skipped where vLLM is not installed.

Run one page by hand: ``python tests/test_docs.py docs/generate.md``.
"""

from __future__ import annotations
import __future__

import doctest
import functools
import operator
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGE_TIMEOUT_S = 300

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_SKIP = re.compile(r"^#\s*docs:\s*skip\b(?P<rest>.*)$")
_SKIP_REASON = re.compile(r"^\s*\((?P<reason>[^)]+)\)\s*$")
_REFUSED_LANGUAGES = frozenset({"py", "py3", "python3", "pycon", "ipython", "pyi"})
_NEEDS_VLLM = re.compile(r"\b(vllm|models)\b")
_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)
)


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line number, in the page, of the block's first code line
    language: str
    code: str

    @property
    def skip_reason(self) -> str | None:
        """The reason of a ``# docs: skip (<reason>)`` first line, or None for a block that runs.

        Raises ``ValueError`` for a skip marker without a reason in parentheses.
        """
        first = self.code.lstrip("\n").split("\n", 1)[0].strip()
        marker = _SKIP.match(first)
        if marker is None:
            return None
        reason = _SKIP_REASON.match(marker["rest"])
        if reason is None:
            raise ValueError(
                f"{self.where}: write the skip marker as '# docs: skip (<reason>)', got {first!r}"
            )
        return reason["reason"].strip()

    @property
    def where(self) -> str:
        return f"{_relative(self.page)}:{self.line}"


def _relative(page: Path) -> str:
    try:
        return str(page.resolve().relative_to(ROOT))
    except ValueError:
        return str(page)


def fenced_blocks(page: Path, text: str | None = None) -> list[Block]:
    """Every fenced code block of ``page`` (indented ones, inside lists or admonitions, too)."""
    lines = (page.read_text(encoding="utf-8") if text is None else text).split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].lstrip("{").lstrip(".")
        language = re.split(r"[\s{}]", info, maxsplit=1)[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"]
            ):
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        blocks.append(Block(page, i + 2, language, textwrap.dedent("\n".join(body))))
        i = j + 1
    return blocks


def python_blocks(page: Path) -> list[Block]:
    """The blocks of ``page`` that the convention executes, skipped ones included."""
    return [block for block in fenced_blocks(page) if block.language == "python"]


def run_page(page: Path) -> None:
    """Execute the runnable Python blocks of ``page`` in order, in one ``__main__`` namespace."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    flags = 0  # the __future__ imports of earlier blocks hold for later ones, as in one script
    for block in python_blocks(page):
        if block.skip_reason is not None:
            print(f"--- {block.where}: skipped ({block.skip_reason})", file=sys.stderr, flush=True)
            continue
        print(f"--- {block.where}", file=sys.stderr, flush=True)
        if block.code.lstrip().startswith(">>>"):
            _run_session(block, module.__dict__)
            continue
        source = "\n" * (block.line - 1) + block.code
        code = compile(source, str(page), "exec", flags=flags, dont_inherit=True)
        flags |= code.co_flags & _FUTURE_FLAGS
        exec(code, module.__dict__)
        sys.stdout.flush()


def _run_session(block: Block, namespace: dict[str, object]) -> None:
    """Run a ``>>>`` session block as a doctest in ``namespace``: each output must match."""
    test = doctest.DocTestParser().get_doctest(
        block.code, namespace, block.where, str(block.page), block.line - 1
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, clear_globs=False)
    if runner.failures:
        raise SystemExit(f"{block.where}: {runner.failures} example(s) printed something else")


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _runnable_code(page: Path) -> str:
    return "\n".join(block.code for block in python_blocks(page) if block.skip_reason is None)


def _page_params() -> list[object]:
    params: list[object] = []
    for page in _pages():
        code = _runnable_code(page)
        if not code.strip():
            continue
        marks = [pytest.mark.vllm, pytest.mark.slow] if _NEEDS_VLLM.search(code) else []
        params.append(pytest.param(page, id=_relative(page), marks=marks))
    return params


@pytest.mark.parametrize("page", _page_params())
def test_page_examples_run(page: Path) -> None:
    env = dict(os.environ)
    env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    env["VLLM_CPU_KVCACHE_SPACE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="typedgen-docs-") as cwd:
        try:
            result = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), str(page)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=PAGE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{_relative(page)}: examples ran past {PAGE_TIMEOUT_S} s\n{exc.stderr}")
    if result.returncode != 0:
        pytest.fail(
            f"{_relative(page)}: an example failed (exit status {result.returncode})\n"
            f"--- stdout (end)\n{result.stdout[-4000:]}\n--- stderr (end)\n{result.stderr[-8000:]}",
            pytrace=False,
        )


@pytest.mark.parametrize("page", _pages(), ids=_relative)
def test_page_follows_the_convention(page: Path) -> None:
    for block in fenced_blocks(page):
        assert block.language not in _REFUSED_LANGUAGES, (
            f"{block.where}: a ```{block.language} block is neither run nor marked as shell; "
            "use ```python (executed) or ```console (shell)"
        )
        if block.language == "python":
            _ = block.skip_reason  # raises for a marker without a reason


def test_fenced_blocks_reads_the_convention(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n"
        "```python\nx = 1\n```\n"
        "!!! note\n"
        '    ```python title="b.py"\n    if x:\n        y = 2\n    ```\n'
        "````markdown\n```python\nnot a block\n```\n````\n"
        "```console\n$ make docs\n```\n"
        "```python\n# docs: skip (needs a GPU)\nimport cuda_only\n```\n",
        encoding="utf-8",
    )
    blocks = fenced_blocks(page)
    assert [(b.language, b.line) for b in blocks] == [
        ("python", 3),
        ("python", 7),
        ("markdown", 11),
        ("console", 16),
        ("python", 19),
    ]
    assert blocks[1].code == "if x:\n    y = 2"
    assert [b.skip_reason for b in python_blocks(page)] == [None, None, "needs a GPU"]
    bad = Block(page, 1, "python", "# docs: skip\nimport x")
    with pytest.raises(ValueError, match="reason"):
        _ = bad.skip_reason


def test_run_page_runs_blocks_in_order_as_main(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nfrom __future__ import annotations\nimport dataclasses\n"
        "@dataclasses.dataclass\nclass Point:\n    x: int\n```\n"
        "text between\n"
        "```python\n# docs: skip (shown only)\nraise SystemExit(3)\n```\n"
        "```python\nimport typing\ndef later(a: Undefined) -> None: ...\n"
        "if __name__ == '__main__':\n"
        "    print(typing.get_type_hints(Point)['x'].__name__, Point(1))\n```\n"
        "```python\n1 / 0\n```\n",
        encoding="utf-8",
    )
    main = sys.modules["__main__"]
    try:
        with pytest.raises(ZeroDivisionError) as error:
            run_page(page)
    finally:
        sys.modules["__main__"] = main
    assert "int Point(x=1)" in capsys.readouterr().out
    assert error.traceback[-1].path == page
    assert error.traceback[-1].lineno + 1 == 20  # pytest counts lines from 0


if __name__ == "__main__":
    run_page(Path(sys.argv[1]).resolve())

"""typedgen's logits processor for vLLM's V1 engine.

Register it when building the engine (``typedgen.models.vllm`` does this for you)::

    LLM(model, logits_processors=[PROCESSOR_FQCN])
    vllm serve MODEL --logits-processors typedgen.processors.vllm:TypedgenLogitsProcessor

and give each constrained request its constraint as flat strings in
``SamplingParams.extra_args`` (``vllm_xargs`` over HTTP), see
:class:`~typedgen.processors.Constraint`.

What it guarantees, per constrained request:

* every sampled token keeps the output a prefix of a string the constraint accepts, and EOS is
  allowed exactly when the output is complete (the guide is final);
* the constraint is checked when the request is admitted (:meth:`validate_params`, in the
  frontend process): a bad pattern or schema fails that request with
  :class:`~typedgen.RegexError` / :class:`~typedgen.SchemaError` as the cause of vLLM's
  validation error, and never reaches the engine;
* in the engine it is compiled once per (constraint, tokenizer) and cached (an LRU bounded by
  bytes, :attr:`max_bytes`); the check at admission compiles it over bytes once per process;
* requests are followed through every ``BatchUpdate`` (added, removed, moved); guides are
  advanced by the tokens appended to the live output-token lists just before each mask is
  built, so asynchronous scheduling (whose lists end in ``-1`` placeholders until the sampled
  ids arrive) is handled;
* finishing within the budget (unless the request sets ``typedgen_finish_within_budget`` to
  false): once the tokens a request may still generate (``max_tokens``, capped by the model
  length, minus what it has generated) fall to the guide's ``max_distance + 1``, its mask only
  allows tokens after which the constraint can still be completed in the tokens left, EOS
  included (:meth:`~typedgen.Guide.fill_bitmask_within`; every row of the batch is written
  by one ``fill_bitmasks_within`` call, GIL released). A request whose budget fits the
  shortest completion then ends complete, with EOS, instead of being cut by ``max_tokens``
  (with the single-byte tokens of byte-level and byte-fallback vocabularies); one whose
  budget cannot fit it gets the plain mask and is cut as before. Until then the hook's work
  is the plain mask copy;
* ``min_tokens``: vLLM's built-in processor hides EOS until ``min_tokens`` tokens exist. Where
  the constraint then allows nothing but EOS, the constraint wins and EOS is sampled (a row
  with no allowed token would otherwise be sampled from garbage); otherwise ``min_tokens``
  keeps the output going while the constraint allows it.

Unconstrained requests in the same batch are left untouched.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from vllm import SamplingParams
from vllm.exceptions import VLLMValidationError
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality

from typedgen._compiler import DEFAULT_MAX_BYTES, Compiler
from typedgen._errors import TypedgenError, UsageError
from typedgen._fsm import Guide, fill_bitmasks_within
from typedgen._matcher import Matcher
from typedgen._vocab import Vocabulary
from typedgen.processors._constraint import Constraint, byte_compiler, finish_within_budget
from typedgen.torch import MaskApplier

if TYPE_CHECKING:
    from vllm.config import VllmConfig

__all__ = ["TypedgenLogitsProcessor"]

_log = logging.getLogger(__name__)


class _Row:
    """One constrained request in the persistent batch: its :class:`~typedgen.Matcher` and
    what the processor needs besides it."""

    __slots__ = ("consumed", "limit", "matcher", "min_tokens", "output", "tight_from")

    def __init__(
        self, matcher: Matcher | None, output: list[int], min_tokens: int, limit: int | None
    ) -> None:
        self.matcher = matcher  # None: broken, only EOS is allowed from now on
        self.output = output  # vLLM's live list of this request's output token ids
        self.consumed = 0
        self.min_tokens = min_tokens
        # ``limit``: the most output tokens the request may have (None: finish within it is
        # off); from ``tight_from`` output tokens on, the budget may restrict the mask
        self.limit = 0 if limit is None else limit
        self.tight_from = sys.maxsize
        if matcher is not None and limit is not None:
            self.tight_from = limit - matcher.guide.max_distance - 1

    def catch_up(self) -> None:
        """Accept the tokens appended since the last step (a refused one ends the request)."""
        output = self.output
        end = len(output)
        k = self.consumed
        matcher = self.matcher
        if matcher is None:
            self.consumed = end
            return
        while k < end:
            token = output[k]
            if token < 0:  # an asynchronous-scheduling placeholder: the id is not known yet
                break
            try:
                accepted = matcher.accept_token(token)
            except TypedgenError:  # the automaton's state limit
                _log.exception("typedgen: the guide failed at token %d; ending the request", token)
                accepted = False
            else:
                if not accepted:
                    _log.error(
                        "typedgen: the guide cannot follow token %d; ending the request", token
                    )
            if not accepted:
                self.matcher = None
                k = end
                break
            k += 1
        self.consumed = k


class TypedgenLogitsProcessor(LogitsProcessor):
    """Masks the logits of requests that carry a typedgen constraint (see the module doc)."""

    prefetch: ClassVar[bool] = True
    """Whether the masks of the states one token after each row's are computed ahead, in the
    background thread of :meth:`~typedgen.Guide.prefetch`, between engine steps."""

    fill_threads: ClassVar[int] = min(8, os.cpu_count() or 1)
    """Threads that share the rows of a batch of at least ``parallel_from`` constrained rows
    (:func:`typedgen._fsm.fill_bitmasks_within`, the GIL released)."""

    parallel_from: ClassVar[int] = 64

    max_bytes: ClassVar[int] = DEFAULT_MAX_BYTES
    """The bound of each engine's cache of compiled guides, in bytes of
    :attr:`~typedgen.Guide.memory` (see :class:`~typedgen.Compiler`)."""

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        """Refuse a request whose constraint cannot be honoured (raises a ``ValueError``
        subclass: :class:`~typedgen.RegexError`, :class:`~typedgen.SchemaError`), or whose
        ``typedgen_*`` keys are malformed (vLLM's validation error, caused by the
        :class:`~typedgen.UsageError`: vLLM refuses a request for a ``ValueError`` only)."""
        try:
            constraint = Constraint.from_extra_args(sampling_params.extra_args)
        except UsageError as exc:
            raise VLLMValidationError(str(exc)) from exc
        if constraint is None:
            return
        if sampling_params.ignore_eos:
            raise ValueError("a typedgen constraint cannot be combined with ignore_eos=True")
        constraint.compile(byte_compiler())

    def __init__(self, vllm_config: VllmConfig, device: torch.device, is_pin_memory: bool) -> None:
        self._model_config = vllm_config.model_config
        self._vocab_size: int = self._model_config.get_vocab_size()
        self._rows: dict[int, _Row] = {}
        self._order: list[int] = []  # sorted keys of _rows, rebuilt on batch changes
        self.compiler: Compiler | None = None  # built at the first constrained request
        # EOS ids, and the bitmask words (indices, int32 values) of a row allowing only EOS
        self._eos_ids: list[int] = []
        self._eos_words: list[int] = []
        self._eos_bits: list[int] = []
        self._applier = MaskApplier(
            vocab_size=self._vocab_size,
            max_rows=vllm_config.scheduler_config.max_num_seqs,
            device=device,
            pin_memory=is_pin_memory,
        )

    def is_argmax_invariant(self) -> bool:
        """Masking changes which token is the most likely: never argmax-invariant."""
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None:
            return
        rows = self._rows
        for index in batch_update.removed:
            rows.pop(index, None)
        for index, params, prompt, output in batch_update.added:
            row = self._new_row(params, prompt, output)
            if row is None:
                rows.pop(index, None)
            else:
                rows[index] = row
        for a, b, direction in batch_update.moved:
            row_a = rows.pop(a, None)
            row_b = rows.pop(b, None)
            if row_a is not None:
                rows[b] = row_a
            if direction == MoveDirectionality.SWAP and row_b is not None:
                rows[a] = row_b
        self._order = sorted(rows)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self._rows:
            return logits
        rows, order = self._rows, self._order
        self._applier.host_bitmask_ready()
        bitmask = self._applier.host_bitmask_np
        forced_eos: list[int] = []
        # the rows written by one fill_bitmasks_within call: (guide, state, budget, row), the
        # budget sys.maxsize (the plain mask) until it may restrict the mask
        guides: list[Guide] = []
        states: list[int] = []
        budgets: list[int] = []
        ks: list[int] = []
        for k, index in enumerate(order):
            row = rows[index]
            row.catch_up()
            matcher = row.matcher
            if matcher is not None:
                try:
                    generated = len(row.output)
                    if row.min_tokens > generated and matcher.is_final():
                        forced_eos.append(index)
                except TypedgenError:  # e.g. the lazily built automaton hit its state limit
                    _log.exception("typedgen: no mask for this state; ending the request")
                    row.matcher = None
                else:
                    guides.append(matcher.guide)
                    states.append(matcher.state)
                    ks.append(k)
                    tight = generated >= row.tight_from
                    budgets.append(row.limit - generated if tight else sys.maxsize)
                    continue
            self._eos_only(bitmask, k, index, forced_eos)
        if ks:
            threads = self.fill_threads if len(ks) >= self.parallel_from else 1
            for j in fill_bitmasks_within(
                guides, states, budgets, bitmask, rows=ks, threads=threads
            ):
                index = order[ks[j]]
                try:  # the automaton failed there: the per-row fill raises its error
                    guides[j].fill_bitmask_within(states[j], budgets[j], bitmask, ks[j])
                except TypedgenError:
                    _log.exception("typedgen: no mask for this state; ending the request")
                    rows[index].matcher = None
                    self._eos_only(bitmask, ks[j], index, forced_eos)
            if self.prefetch:
                for guide, state in zip(guides, states, strict=True):
                    guide.prefetch(state)
        self._applier.apply(logits, order)
        for index in forced_eos:
            # vLLM's min_tokens processor may have hidden EOS; if nothing else is allowed, the
            # row is all -inf: let EOS (the only allowed token) be sampled.
            if bool(torch.isneginf(logits[index]).all()):
                logits[index, self._eos_ids] = 0.0
        return logits

    def _eos_only(self, bitmask: np.ndarray, k: int, index: int, forced_eos: list[int]) -> None:
        """Row ``k`` of the bitmask allows only EOS (a broken or failed request ends)."""
        bitmask[k] = 0
        bitmask[k, self._eos_words] = self._eos_bits
        if index not in forced_eos:
            forced_eos.append(index)

    def _new_row(
        self, params: SamplingParams, prompt: list[int] | None, output: list[int]
    ) -> _Row | None:
        try:
            constraint = Constraint.from_extra_args(params.extra_args)
            if constraint is None:
                return None
            guide = constraint.compile(self.compiler or self._build_compiler())
        except TypedgenError:  # refused by validate_params first, so only if that was bypassed
            _log.exception("typedgen: the constraint failed to compile; only EOS will be allowed")
            if self.compiler is None:
                self._build_compiler()  # the EOS ids
            return _Row(None, output, params.min_tokens, None)
        limit = None
        if finish_within_budget(params.extra_args):
            limit = self._model_config.max_model_len - (len(prompt) if prompt else 0)
            if params.max_tokens is not None:
                limit = min(limit, params.max_tokens)
        return _Row(Matcher(guide), output, params.min_tokens, limit)

    def _build_compiler(self) -> Compiler:
        from vllm.tokenizers import cached_tokenizer_from_config

        tokenizer = cached_tokenizer_from_config(self._model_config)
        vocabulary = Vocabulary.from_tokenizer(tokenizer, size=self._vocab_size)
        self._eos_ids = sorted(vocabulary.eos_token_ids)
        words = _words_of(self._eos_ids)
        self._eos_words = [w for w, _ in words]
        self._eos_bits = [v for _, v in words]
        self.compiler = Compiler(vocabulary, max_bytes=self.max_bytes)
        return self.compiler


def _words_of(token_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(word index, int32 word value) pairs of a bitmask allowing exactly ``token_ids``."""
    words: dict[int, int] = {}
    for token in token_ids:
        words[token // 32] = words.get(token // 32, 0) | (1 << (token % 32))
    return [(w, v - (1 << 32) if v >= 1 << 31 else v) for w, v in sorted(words.items())]

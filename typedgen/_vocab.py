"""The vocabulary of a model: for every token id, the exact bytes it adds to the text.

A guide constrains generation byte by byte, so it must know what each token *contributes in
context*, which is not what ``tokenizer.decode([token_id])`` returns: decoding a single token
drops the leading space that SentencePiece writes as ``▁``, and turns a token holding part of a
multi-byte UTF-8 character into U+FFFD. :class:`Vocabulary` holds the contribution of every
token as raw bytes, with the guarantee checked by the test suite on four real tokenizers:

    for any text ``s`` and ``ids = tokenizer.encode(s)``,
    ``b"".join(vocabulary.token_bytes[i] for i in ids)`` is ``s.encode()``,

except for the dummy prefix a SentencePiece tokenizer inserts at the very start of a sequence
(see :meth:`Vocabulary.from_tokenizer`). Tokens that are never part of the generated text
(control and special tokens, ``<unk>``, unused ids) have ``None`` and are never allowed by a
guide; the end-of-sequence tokens are among them and are tracked in
:attr:`Vocabulary.eos_token_ids`, allowed exactly where the constraint is complete.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from typedgen import _fsm
from typedgen._errors import VocabularyError

__all__ = ["Vocabulary"]

# SentencePiece writes a space as U+2581 and, with byte fallback, a byte as the piece <0xNN>.
_SPACE_MARK = "\u2581"
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_FINGERPRINT_VERSION = b"typedgen.Vocabulary/1\x00"


def _byte_level_alphabet() -> dict[str, int]:
    """The printable stand-in character of each byte in GPT-2 style byte-level BPE.

    Bytes that are printable Latin-1 characters stand for themselves; the others (controls,
    space, DEL, NBSP, soft hyphen) take the code points from U+0100 upwards, in byte order.
    """
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    kept = set(printable)
    alphabet = {chr(b): b for b in printable}
    shifted = 0x100
    for b in range(0x100):
        if b not in kept:
            alphabet[chr(shifted)] = b
            shifted += 1
    return alphabet


_BYTE_LEVEL = _byte_level_alphabet()
# str.translate table: stand-in code point -> the Latin-1 code point of the byte it stands for
_BYTE_LEVEL_TRANSLATION = {ord(char): byte for char, byte in _BYTE_LEVEL.items()}
_BYTE_LEVEL_CHARS = frozenset(_BYTE_LEVEL)


class Vocabulary:
    """Token id -> bytes table, end-of-sequence ids and logits width of one model.

    ``token_bytes[i]`` is the bytes token ``i`` adds to the generated text, or ``None`` for a
    token that a guide never allows (special, control, unknown or unused). Every EOS id must
    have ``None`` here (when it lies inside the table): it carries no text and is allowed by a
    guide exactly in its final states. ``size`` is the number of logits columns, at least
    ``len(token_bytes)``; ids from ``len(token_bytes)`` to ``size - 1`` are never allowed.

    Instances are immutable, compare equal when their :attr:`fingerprint` is equal, and build
    their :attr:`trie` (the token index used by every guide) once, on first use.

    Raises :class:`~typedgen.VocabularyError` when the table is malformed: an entry that is not
    ``bytes`` or ``None``, an empty ``bytes`` (a token that adds nothing could be repeated
    forever; use ``None``), no EOS id, an EOS id outside ``[0, size)`` or with bytes, or
    ``size < len(token_bytes)``.
    """

    token_bytes: tuple[bytes | None, ...]
    eos_token_ids: frozenset[int]
    size: int

    def __init__(
        self,
        token_bytes: Sequence[bytes | None],
        *,
        eos_token_ids: Iterable[int],
        size: int | None = None,
    ) -> None:
        table = tuple(token_bytes)
        for token_id, value in enumerate(table):
            if value is None:
                continue
            if type(value) is not bytes:
                raise VocabularyError(
                    f"token {token_id}: expected bytes or None, got {type(value).__name__}"
                )
            if not value:
                raise VocabularyError(
                    f"token {token_id}: empty bytes (a token that adds nothing must be None)"
                )
        width = len(table) if size is None else int(size)
        if width < len(table):
            raise VocabularyError(
                f"size {width} is smaller than the {len(table)} tokens in the table"
            )
        eos = frozenset(int(token_id) for token_id in eos_token_ids)
        if not eos:
            raise VocabularyError("a vocabulary needs at least one end-of-sequence token id")
        for token_id in sorted(eos):
            if not 0 <= token_id < width:
                raise VocabularyError(f"EOS token id {token_id} is outside [0, {width})")
            if token_id < len(table) and table[token_id] is not None:
                raise VocabularyError(
                    f"EOS token id {token_id} has bytes {table[token_id]!r}; "
                    "an end-of-sequence token must be None in token_bytes"
                )
        self.token_bytes = table
        self.eos_token_ids = eos
        self.size = width

    @classmethod
    def from_tokenizer(
        cls,
        tokenizer: Any,
        *,
        size: int | None = None,
        extra_eos_token_ids: Iterable[int] = (),
    ) -> Vocabulary:
        """Read the vocabulary of a tokenizer.

        Accepted tokenizers:

        * Hugging Face fast tokenizers (``PreTrainedTokenizerFast`` / ``TokenizersBackend``,
          and vLLM's cached or pooled wrappers of them) whose decoder is either GPT-2 style
          byte-level (GPT-2, Llama 3, Qwen, SmolLM, tekken converted to Hugging Face format),
          or SentencePiece style: ``▁`` replaced by a space, optional ``<0xNN>`` byte
          fallback, fusing and stripping of the leading space (Llama 2, Mistral, Gemma);
        * mistral_common tokenizers (``Tekkenizer``, ``SentencePieceTokenizer``), directly,
          inside a ``MistralTokenizer``, inside transformers' ``MistralCommonBackend`` or
          inside vLLM's ``MistralTokenizer`` (``tokenizer_mode="mistral"``).

        Added tokens that are not special contribute their text; special tokens and control
        tokens (including BOS, EOS, PAD and ``<unk>``) are ``None``.

        SentencePiece tokens contribute their text with ``▁`` read as a space: ``"▁Hello"``
        contributes ``b" Hello"``, which is what it adds after a prompt. At the very start of
        a sequence a SentencePiece tokenizer inserts a dummy prefix ``▁`` that decoding
        strips again, so the bytes of ``encode(s)`` are ``b" " + s.encode()`` there
        (Hugging Face's Metaspace skips the prefix when ``s`` already starts with a space).
        Generated tokens always follow a prompt, so the prefix never reaches them.

        The end-of-sequence ids are the tokenizer's EOS token plus ``extra_eos_token_ids``
        (for instance a generation config's ``eos_token_id`` list). ``size`` is the model's
        logits width when it is larger than the tokenizer.

        Raises :class:`~typedgen.VocabularyError` for a tokenizer of another kind, a decoder
        that is not understood, a token that cannot be mapped to bytes, no EOS token, or a
        ``size`` smaller than the tokenizer.
        """
        mistral = _mistral_common_tokenizer(tokenizer)
        if mistral is not None:
            table, eos = _read_mistral_common(mistral)
        elif getattr(tokenizer, "backend_tokenizer", None) is not None:
            table, eos = _read_hf_fast(tokenizer)
        else:
            raise VocabularyError(
                f"cannot read the vocabulary of a {type(tokenizer).__module__}."
                f"{type(tokenizer).__qualname__}: expected a Hugging Face fast tokenizer "
                "(with a backend_tokenizer) or a mistral_common tokenizer"
            )
        eos |= {int(token_id) for token_id in extra_eos_token_ids}
        if not eos:
            raise VocabularyError(
                f"the tokenizer {type(tokenizer).__qualname__} has no EOS token; "
                "pass extra_eos_token_ids"
            )
        for token_id in eos:
            if token_id < len(table):
                table[token_id] = None
        return cls(table, eos_token_ids=eos, size=size)

    @classmethod
    def of_bytes(cls) -> Vocabulary:
        """The vocabulary of the 256 single bytes (token ``b`` is byte ``b``) and EOS (256):
        guides over it check constraints and whole texts without a tokenizer."""
        return cls([bytes([b]) for b in range(256)], eos_token_ids=[256], size=257)

    @cached_property
    def fingerprint(self) -> str:
        """A sha256 hex digest of the size, every token's bytes and the EOS ids.

        Two vocabularies have the same fingerprint exactly when they allow the same bytes
        for the same ids, so it is a safe cache key for anything compiled against them.
        """
        digest = hashlib.sha256(_FINGERPRINT_VERSION)
        header = np.array([self.size, len(self.token_bytes)], dtype="<i8")
        digest.update(header.tobytes())
        lengths = np.fromiter(
            (-1 if value is None else len(value) for value in self.token_bytes),
            dtype="<i8",
            count=len(self.token_bytes),
        )
        digest.update(lengths.tobytes())
        digest.update(b"".join(value for value in self.token_bytes if value is not None))
        digest.update(np.array(sorted(self.eos_token_ids), dtype="<i8").tobytes())
        return digest.hexdigest()

    @cached_property
    def trie(self) -> _fsm.TokenTrie:
        """The token index every guide over this vocabulary shares, built on first use."""
        return _fsm.TokenTrie(self.token_bytes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self is other or self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        allowed = sum(value is not None for value in self.token_bytes)
        return (
            f"Vocabulary(size={self.size}, tokens={len(self.token_bytes)}, "
            f"with_bytes={allowed}, eos_token_ids={sorted(self.eos_token_ids)})"
        )


# --- Hugging Face fast tokenizers ------------------------------------------------------------


def _read_hf_fast(tokenizer: Any) -> tuple[list[bytes | None], set[int]]:
    backend = tokenizer.backend_tokenizer
    pieces: dict[str, int] = backend.get_vocab(with_added_tokens=False)
    added: dict[int, Any] = backend.get_added_tokens_decoder()
    length = max(
        max(pieces.values(), default=-1) + 1,
        max(added, default=-1) + 1,
        len(tokenizer),
    )
    # added tokens are decoded as their plain text, not by the decoder: keep them apart
    pieces = {piece: token_id for piece, token_id in pieces.items() if token_id not in added}
    convert = _piece_converter(backend.decoder, pieces)
    table: list[bytes | None] = [None] * length
    for piece, token_id in pieces.items():
        table[token_id] = convert(piece) or None
    for token_id, token in added.items():
        table[token_id] = None if token.special else (token.content.encode("utf-8") or None)
    for token_id in getattr(tokenizer, "all_special_ids", ()):
        if 0 <= token_id < length:
            table[token_id] = None
    eos_id = tokenizer.eos_token_id
    return table, set() if eos_id is None else {int(eos_id)}


def _decoder_steps(decoder: Any) -> list[dict[str, Any]]:
    """The decoder's configuration as a flat list of steps (tokenizers' own JSON form)."""
    return [] if decoder is None else _flatten(json.loads(decoder.__getstate__()))


def _flatten(config: dict[str, Any]) -> list[dict[str, Any]]:
    if config.get("type") == "Sequence":
        return [step for inner in config["decoders"] for step in _flatten(inner)]
    return [config]


def _piece_converter(decoder: Any, pieces: dict[str, int]) -> Any:
    """Choose how a vocabulary piece maps to bytes from what the decoder does to it."""
    steps = _decoder_steps(decoder)
    kinds = [step.get("type") for step in steps]
    if kinds == ["ByteLevel"]:
        stray = set("".join(pieces)) - _BYTE_LEVEL_CHARS
        if stray:
            char = min(stray)
            piece = next(p for p in pieces if char in p)
            raise VocabularyError(
                f"token {pieces[piece]} ({piece!r}) has the character {char!r}, which is "
                "not in the byte-level alphabet of its ByteLevel decoder"
            )
        return _byte_level_bytes
    byte_fallback = False
    space_mark = False
    for step in steps:
        kind = step.get("type")
        if kind in ("Metaspace", "Replace") and _writes_space_mark_as_space(step):
            space_mark = True
        elif kind == "ByteFallback":
            byte_fallback = True
        elif kind == "Fuse":
            pass  # joins pieces into one string: no change to the bytes
        elif kind == "Strip" and step.get("content") == " " and step.get("stop") == 0:
            pass  # removes the dummy prefix at the start of a sequence only
        else:
            raise VocabularyError(
                f"unsupported tokenizer decoder step {json.dumps(step)} in {kinds}: "
                "only byte-level and SentencePiece-style decoders are understood"
            )
    if not space_mark:
        raise VocabularyError(
            f"unsupported tokenizer decoder {kinds or 'None'}: expected ByteLevel, or "
            "SentencePiece-style (Metaspace, or Replace '▁' with ' ')"
        )
    return _sentencepiece_bytes_with_fallback if byte_fallback else _sentencepiece_bytes


def _writes_space_mark_as_space(step: dict[str, Any]) -> bool:
    if step.get("type") == "Metaspace":
        return step.get("replacement") == _SPACE_MARK
    return step.get("pattern") == {"String": _SPACE_MARK} and step.get("content") == " "


def _byte_level_bytes(piece: str) -> bytes:
    return piece.translate(_BYTE_LEVEL_TRANSLATION).encode("latin-1")


def _sentencepiece_bytes(piece: str) -> bytes:
    return piece.replace(_SPACE_MARK, " ").encode("utf-8")


def _sentencepiece_bytes_with_fallback(piece: str) -> bytes:
    if piece.startswith("<0x"):
        match = _BYTE_PIECE.fullmatch(piece)
        if match is not None:
            return bytes([int(match.group(1), 16)])
    return piece.replace(_SPACE_MARK, " ").encode("utf-8")


# --- mistral_common tokenizers ---------------------------------------------------------------


def _mistral_common_tokenizer(tokenizer: Any) -> Any:
    """The mistral_common ``Tekkenizer``/``SentencePieceTokenizer`` inside ``tokenizer``.

    Unwraps vLLM's ``MistralTokenizer``, transformers' ``MistralCommonBackend`` and
    mistral_common's ``MistralTokenizer``; returns ``None`` for any other tokenizer.
    """
    inner = tokenizer
    wrapped_by_vllm = getattr(inner, "IS_MISTRAL_TOKENIZER", False)
    if wrapped_by_vllm or type(inner).__module__ == "transformers.tokenization_mistral_common":
        inner = inner.tokenizer
    if type(inner).__module__.startswith("mistral_common.") and hasattr(
        inner, "instruct_tokenizer"
    ):
        inner = inner.instruct_tokenizer.tokenizer
    if type(inner).__module__.startswith("mistral_common.tokens.tokenizers."):
        return inner
    return None


def _read_mistral_common(tokenizer: Any) -> tuple[list[bytes | None], set[int]]:
    count = int(tokenizer.n_words)
    never = {int(token_id) for token_id in tokenizer.special_ids}
    never |= {int(tokenizer.bos_id), int(tokenizer.eos_id), int(tokenizer.unk_id)}
    table: list[bytes | None] = [None] * count
    if hasattr(tokenizer, "id_to_byte_piece"):  # Tekkenizer: specials first, then byte BPE
        for token_id in range(int(tokenizer.num_special_tokens), count):
            if token_id not in never:
                table[token_id] = tokenizer.id_to_byte_piece(token_id) or None
    else:  # SentencePieceTokenizer with <0xNN> byte pieces
        for token_id, piece in enumerate(tokenizer.vocab()):
            if token_id not in never:
                table[token_id] = _sentencepiece_bytes_with_fallback(piece) or None
    return table, {int(tokenizer.eos_id)}

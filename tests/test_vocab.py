"""Vocabulary: the bytes every token id contributes, checked on four real tokenizers.

The central property: for a text ``s``, the bytes of the tokens of ``tokenizer.encode(s)``
concatenate back to ``s`` exactly (after the dummy prefix that SentencePiece puts at the start
of a sequence), over thousands of generated strings and a bounded Hypothesis strategy.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typedgen import Vocabulary, VocabularyError
from typedgen.testing import load_tokenizer
from typedgen.testing._tokenizers import TOKENIZER_NAMES, tokenizer_source

SPACE_MARK = "\u2581"  # SentencePiece's space: text holding it cannot round-trip there


# --- the four tokenizers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    size: int
    eos: frozenset[int]
    never: int  # ids with None bytes (special and control tokens)
    prefix: Callable[[str], bytes]  # what the tokenizer inserts before s at sequence start
    sentencepiece: bool
    # bytes without a one-byte token: the tokenizer silently drops characters holding them
    unencodable: frozenset[int] = frozenset()

    def representable(self, text: str) -> str:
        """``text`` with the characters this tokenizer cannot encode replaced by ``?``."""
        if self.sentencepiece:
            text = text.replace(SPACE_MARK, "?")
        if not self.unencodable:
            return text
        return "".join(
            "?" if self.unencodable.intersection(char.encode()) else char for char in text
        )


def _no_prefix(text: str) -> bytes:
    return b""


def _metaspace_prefix(text: str) -> bytes:
    """Hugging Face's Metaspace (prepend_scheme "first"): a ▁ unless s starts with a space."""
    return b" " if text and not text.startswith(" ") else b""


def _dummy_prefix(text: str) -> bytes:
    """The sentencepiece library's add_dummy_prefix: a ▁ before any non-empty text."""
    return b" " if text else b""


EXPECTED = {
    "sentencepiece-32k": Expected(32000, frozenset({2}), 3, _metaspace_prefix, True),
    "tekken-131k": Expected(131072, frozenset({2}), 1000, _no_prefix, False),
    "gpt2-50k": Expected(50257, frozenset({50256}), 1, _no_prefix, False),
    "smollm2-49k": Expected(
        49152,
        frozenset({2}),
        17,
        _no_prefix,
        False,
        frozenset(
            {0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, *range(0xF5, 0x100)}
        ),
    ),
}


def _load(name: str) -> Any:
    try:
        return load_tokenizer(name)
    except FileNotFoundError as missing:
        pytest.skip(f"{name}: {missing}")


@pytest.fixture(scope="module", params=TOKENIZER_NAMES)
def case(request: pytest.FixtureRequest) -> tuple[str, Any, Vocabulary]:
    name: str = request.param
    tokenizer = _load(name)
    return name, tokenizer, Vocabulary.from_tokenizer(tokenizer)


# --- a deterministic corpus --------------------------------------------------------------------

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "typed",
    "generation",
    "keeps",
    "every",
    "token",
    "inside",
    "the",
    "grammar",
    "and",
    "nothing",
    "outside",
    "it",
    "ever",
    "reaches",
    "the",
    "user",
    "I'm",
    "we'll",
    "they've",
    "don't",
]
CODE = [
    "def f(x: int) -> int:\n    return x * 2\n",
    "for (let i = 0; i < n; i++) {\n\tsum += a[i];\n}",
    "SELECT id, name FROM users WHERE age >= 18;",
    '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); }',
    "    if x:\n        pass\n    else:\n\t\treturn None",
    "x=[1,2,3];y={'a':(4,5)}  # comment",
]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "    ", "\u00a0", "\u3000", "\u2003", "\v"]
SCRIPT_RANGES = [
    (0x4E00, 0x9FFF),  # CJK ideographs
    (0x3040, 0x30FF),  # kana
    (0xAC00, 0xD7A3),  # Hangul
    (0x0400, 0x04FF),  # Cyrillic
    (0x0370, 0x03FF),  # Greek
    (0x0600, 0x06FF),  # Arabic
    (0x05D0, 0x05EA),  # Hebrew
    (0x0900, 0x097F),  # Devanagari
    (0x0E00, 0x0E7F),  # Thai
    (0x00C0, 0x024F),  # Latin with diacritics
    (0x0300, 0x036F),  # combining marks
    (0x1F300, 0x1FAFF),  # emoji
    (0x2000, 0x2BFF),  # punctuation, arrows, symbols
    (0x10000, 0x1FFFF),  # other astral characters
]
EMOJI = ["👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤️", "🎉", "🙂", "🧑\u200d💻"]


def _script_text(rng: random.Random, length: int) -> str:
    low, high = rng.choice(SCRIPT_RANGES)
    chars = [chr(rng.randint(low, high)) for _ in range(length)]
    return "".join(c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF)


def _json_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.randint(-(10**12), 10**12)
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return " ".join(rng.choices(WORDS, k=rng.randint(0, 4))) + _script_text(rng, 2)
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return {
            rng.choice(WORDS) + str(i): _json_value(rng, depth + 1)
            for i in range(rng.randint(0, 4))
        }
    return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _numbers(rng: random.Random) -> str:
    forms = [
        str(rng.randint(-(10**20), 10**20)),
        f"{rng.uniform(-1e9, 1e9):.{rng.randint(0, 12)}f}",
        f"{rng.uniform(0, 1):e}",
        "0" * rng.randint(1, 9) + str(rng.randint(0, 999)),
        f"{rng.randint(1, 31):02d}/{rng.randint(1, 12):02d}/{rng.randint(1900, 2100)}",
        f"+{rng.randint(1, 99)} {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
    ]
    return rng.choice(forms)


def _prose(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(1, 14))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", "!", "?", ",", ":", ";", "..."])


def _generate(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        if kind == 0:
            parts.append(_prose(rng))
        elif kind == 1:
            parts.append(rng.choice(CODE))
        elif kind == 2:
            value = _json_value(rng, 0)
            indent = rng.choice([None, 2, 4])
            parts.append(json.dumps(value, indent=indent, ensure_ascii=rng.random() < 0.5))
        elif kind == 3:
            parts.append(_numbers(rng))
        elif kind == 4:
            parts.append("".join(rng.choices(WHITESPACE, k=rng.randint(1, 6))))
        elif kind == 5:
            parts.append(_script_text(rng, rng.randint(1, 12)))
        elif kind == 6:
            parts.append("".join(rng.choices(EMOJI, k=rng.randint(1, 3))))
        else:
            parts.append(_prose(rng) + _script_text(rng, 3) + rng.choice(EMOJI))
    return rng.choice(["", " ", "\n"]).join(parts)


def corpus(count: int = 2500, seed: int = 20260501) -> Iterator[str]:
    """Deterministic strings: prose, code, JSON, numbers, whitespace runs, scripts, emoji."""
    rng = random.Random(seed)
    yield from ["", " ", "  ", "\n", "a", " a", "\t\tx", "€", "é", "你好", "🎉", "\u00a0"]
    for _ in range(count):
        yield _generate(rng)


def _concatenated(vocabulary: Vocabulary, ids: list[int]) -> bytes:
    pieces = [vocabulary.token_bytes[i] for i in ids]
    missing = [i for i, piece in zip(ids, pieces, strict=True) if piece is None]
    assert not missing, f"tokens {missing} of an encoding have no bytes"
    return b"".join(piece for piece in pieces if piece is not None)


# --- the round trip ----------------------------------------------------------------------------


def test_corpus_round_trips(case: tuple[str, Any, Vocabulary]) -> None:
    name, tokenizer, vocabulary = case
    expected = EXPECTED[name]
    texts = [expected.representable(text) for text in corpus()]
    assert len(texts) > 2000
    encodings = tokenizer(texts, add_special_tokens=False)["input_ids"]
    failures = [
        (text, _concatenated(vocabulary, ids))
        for text, ids in zip(texts, encodings, strict=True)
        if _concatenated(vocabulary, ids) != expected.prefix(text) + text.encode()
    ]
    assert not failures, f"{len(failures)} strings do not round-trip, e.g. {failures[:3]}"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(text=st.text(max_size=40))
def test_any_text_round_trips(case: tuple[str, Any, Vocabulary], text: str) -> None:
    name, tokenizer, vocabulary = case
    expected = EXPECTED[name]
    text = expected.representable(text)
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert _concatenated(vocabulary, ids) == expected.prefix(text) + text.encode()


def test_every_token_decodes_to_its_bytes(case: tuple[str, Any, Vocabulary]) -> None:
    """Each token whose bytes are valid UTF-8 decodes, after a fixed context, to those bytes."""
    _, tokenizer, vocabulary = case
    context = tokenizer.encode("a", add_special_tokens=False)
    context_text = tokenizer.decode(context)
    ids, texts = [], []
    for token_id, piece in enumerate(vocabulary.token_bytes):
        if piece is None:
            continue
        try:
            texts.append(piece.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        ids.append(token_id)
    assert len(ids) > 0.7 * len(vocabulary.token_bytes)
    decoded = tokenizer.batch_decode([[*context, token_id] for token_id in ids])
    wrong = [
        (token_id, text, got[len(context_text) :])
        for token_id, text, got in zip(ids, texts, decoded, strict=True)
        if got != context_text + text
    ]
    assert not wrong, f"{len(wrong)} tokens decode otherwise, e.g. {wrong[:5]}"


def test_partial_utf8_tokens_join_into_characters(case: tuple[str, Any, Vocabulary]) -> None:
    """Tokens that hold part of a multi-byte character still concatenate to valid UTF-8."""
    _, tokenizer, vocabulary = case
    text = "鬱🧑\u200d💻" + "".join(chr(0x1D518 + i) for i in range(6))  # Fraktur letters
    ids = tokenizer.encode(text, add_special_tokens=False)
    partial = [i for i in ids if _is_partial(vocabulary.token_bytes[i])]
    assert partial, "expected some tokens holding part of a character"
    assert _concatenated(vocabulary, ids).decode("utf-8").endswith(text)


def _is_partial(piece: bytes | None) -> bool:
    if piece is None:
        return False
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# --- EOS, special tokens, size -----------------------------------------------------------------


def test_eos_and_special_tokens(case: tuple[str, Any, Vocabulary]) -> None:
    name, tokenizer, vocabulary = case
    expected = EXPECTED[name]
    assert vocabulary.eos_token_ids == expected.eos == {tokenizer.eos_token_id}
    assert vocabulary.size == len(vocabulary.token_bytes) == expected.size
    never = {i for i, piece in enumerate(vocabulary.token_bytes) if piece is None}
    assert len(never) == expected.never
    assert expected.eos <= never
    one_byte = {piece[0] for piece in vocabulary.token_bytes if piece and len(piece) == 1}
    assert set(range(256)) - one_byte == expected.unencodable
    assert set(tokenizer.all_special_ids) <= never
    special_added = {
        i
        for i, token in tokenizer.backend_tokenizer.get_added_tokens_decoder().items()
        if token.special
    }
    assert special_added == never


def test_size_wider_than_tokenizer(case: tuple[str, Any, Vocabulary]) -> None:
    _, tokenizer, vocabulary = case
    wide = Vocabulary.from_tokenizer(tokenizer, size=vocabulary.size + 77)
    assert wide.size == vocabulary.size + 77
    assert wide.token_bytes == vocabulary.token_bytes
    assert wide.fingerprint != vocabulary.fingerprint
    with pytest.raises(VocabularyError, match="smaller than"):
        Vocabulary.from_tokenizer(tokenizer, size=vocabulary.size - 1)


def test_extra_eos_token_ids(case: tuple[str, Any, Vocabulary]) -> None:
    _, tokenizer, vocabulary = case
    extra = next(i for i, piece in enumerate(vocabulary.token_bytes) if piece is not None)
    widened = Vocabulary.from_tokenizer(tokenizer, extra_eos_token_ids=[extra])
    assert widened.eos_token_ids == vocabulary.eos_token_ids | {extra}
    assert widened.token_bytes[extra] is None


def test_fingerprint_is_deterministic(case: tuple[str, Any, Vocabulary]) -> None:
    _, tokenizer, vocabulary = case
    again = Vocabulary.from_tokenizer(tokenizer)
    assert again.fingerprint == vocabulary.fingerprint
    assert again == vocabulary
    assert hash(again) == hash(vocabulary)


def test_fingerprints_differ_between_tokenizers() -> None:
    fingerprints = set()
    for name in TOKENIZER_NAMES:
        fingerprints.add(Vocabulary.from_tokenizer(_load(name)).fingerprint)
    assert len(fingerprints) == len(TOKENIZER_NAMES)


# --- mistral_common tokenizers, as vLLM and transformers wrap them -----------------------------


def _mistral_common_file(name: str) -> Path:
    mistral_common = pytest.importorskip("mistral_common")
    path = Path(mistral_common.__file__).parent / "data" / name
    if not path.is_file():
        pytest.skip(f"mistral_common does not ship {name}")
    return path


MISTRAL_FILES = {
    "tekken-131k": "tekken_240911.json",
    "sentencepiece-32k": "tokenizer.model.v1",
}


@pytest.fixture(scope="module")
def mistral_backends() -> dict[str, Any]:
    backend_module = pytest.importorskip("transformers.tokenization_mistral_common")
    return {
        file: backend_module.MistralCommonBackend(str(_mistral_common_file(file)))
        for file in [*MISTRAL_FILES.values(), "mistral_instruct_tokenizer_240323.model.v3"]
    }


@pytest.mark.parametrize("name", sorted(MISTRAL_FILES))
def test_mistral_common_matches_hugging_face_conversion(
    name: str, mistral_backends: dict[str, Any]
) -> None:
    """mistral_common's own tokenizer and its Hugging Face conversion give the same table."""
    native = Vocabulary.from_tokenizer(mistral_backends[MISTRAL_FILES[name]])
    converted = Vocabulary.from_tokenizer(_load(name))
    assert native.token_bytes == converted.token_bytes
    assert native.eos_token_ids == converted.eos_token_ids
    assert native.fingerprint == converted.fingerprint


def test_tekken_fixture_tokenizes_like_mistral_common(mistral_backends: dict[str, Any]) -> None:
    raw = mistral_backends[MISTRAL_FILES["tekken-131k"]].tokenizer.instruct_tokenizer.tokenizer
    texts = list(corpus(count=500, seed=5))
    converted = _load("tekken-131k")(texts, add_special_tokens=False)["input_ids"]
    assert converted == [raw.encode(text, bos=False, eos=False) for text in texts]


@pytest.mark.parametrize(
    "file",
    ["tekken_240911.json", "tokenizer.model.v1", "mistral_instruct_tokenizer_240323.model.v3"],
)
def test_mistral_common_round_trips(file: str, mistral_backends: dict[str, Any]) -> None:
    backend = mistral_backends[file]
    vocabulary = Vocabulary.from_tokenizer(backend)
    raw = backend.tokenizer.instruct_tokenizer.tokenizer
    sentencepiece = not file.startswith("tekken")
    prefix = _dummy_prefix if sentencepiece else _no_prefix
    assert vocabulary.eos_token_ids == {raw.eos_id}
    assert all(vocabulary.token_bytes[i] is None for i in raw.special_ids)
    for generated in corpus(count=600, seed=7):
        text = generated.replace(SPACE_MARK, "?") if sentencepiece else generated
        ids = raw.encode(text, bos=False, eos=False)
        assert _concatenated(vocabulary, ids) == prefix(text) + text.encode(), text


@pytest.mark.vllm
def test_tokenizers_as_vllm_hands_them_over(mistral_backends: dict[str, Any]) -> None:
    """vLLM's cached HF wrapper and its MistralTokenizer read like what they wrap."""
    from vllm.tokenizers.hf import get_cached_tokenizer
    from vllm.tokenizers.mistral import MistralTokenizer

    tokenizer = _load("smollm2-49k")
    assert Vocabulary.from_tokenizer(get_cached_tokenizer(tokenizer)) == (
        Vocabulary.from_tokenizer(tokenizer)
    )
    for file in ["tekken_240911.json", "tokenizer.model.v1"]:
        backend = mistral_backends[file]
        assert Vocabulary.from_tokenizer(MistralTokenizer(backend)) == (
            Vocabulary.from_tokenizer(backend)
        )


@pytest.mark.slow
def test_default_model_tokenizer_reads_like_the_smollm2_fixture() -> None:
    """The tokenizer vLLM loads for the default model maps every id like the fixture."""
    transformers = pytest.importorskip("transformers")
    from typedgen.models._default import default_model_path

    fixture = _load("smollm2-49k")
    folder = default_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    generation = json.loads((folder / "generation_config.json").read_text())
    vocabulary = Vocabulary.from_tokenizer(
        tokenizer, extra_eos_token_ids=[generation["eos_token_id"]]
    )
    assert vocabulary == Vocabulary.from_tokenizer(fixture)


# --- unsupported tokenizers --------------------------------------------------------------------


def test_unsupported_tokenizer_type() -> None:
    with pytest.raises(VocabularyError, match="expected a Hugging Face fast tokenizer"):
        Vocabulary.from_tokenizer(object())


def _tiny_fast_tokenizer(model: Any, decoder: Any) -> Any:
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    backend = tokenizers.Tokenizer(model)
    backend.decoder = decoder
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="[EOS]")


def test_unsupported_decoder() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    model = tokenizers.models.WordPiece(
        {"[EOS]": 0, "[UNK]": 1, "a": 2, "##b": 3}, unk_token="[UNK]"
    )
    tokenizer = _tiny_fast_tokenizer(model, tokenizers.decoders.WordPiece())
    with pytest.raises(VocabularyError, match="WordPiece"):
        Vocabulary.from_tokenizer(tokenizer)


def test_byte_level_piece_outside_the_alphabet() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    model = tokenizers.models.BPE({"[EOS]": 0, "a": 1, "a b": 2}, [])
    tokenizer = _tiny_fast_tokenizer(model, tokenizers.decoders.ByteLevel())
    with pytest.raises(VocabularyError, match="byte-level alphabet"):
        Vocabulary.from_tokenizer(tokenizer)


def test_added_tokens() -> None:
    """Special added tokens are None even when their text is not byte-level; others are text."""
    tokenizers = pytest.importorskip("tokenizers")
    model = tokenizers.models.BPE({"[EOS]": 0, "a": 1, "Ġb": 2, "<|reserved 1|>": 3}, [])
    tokenizer = _tiny_fast_tokenizer(model, tokenizers.decoders.ByteLevel())
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|reserved 1|>"]})
    tokenizer.add_tokens(["hello world"])
    vocabulary = Vocabulary.from_tokenizer(tokenizer)
    assert vocabulary.token_bytes == (None, b"a", b" b", None, b"hello world")
    assert vocabulary.eos_token_ids == {0}


def test_tokenizer_without_eos() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    backend = tokenizers.Tokenizer(tokenizers.models.BPE({"a": 0, "b": 1}, []))
    backend.decoder = tokenizers.decoders.ByteLevel()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend)
    with pytest.raises(VocabularyError, match="no EOS"):
        Vocabulary.from_tokenizer(tokenizer)
    vocabulary = Vocabulary.from_tokenizer(tokenizer, extra_eos_token_ids=[1])
    assert vocabulary.token_bytes == (b"a", None)


# --- the constructor ---------------------------------------------------------------------------


def test_constructor_keeps_what_it_is_given() -> None:
    vocabulary = Vocabulary([b"a", None, b"\xe4\xbd"], eos_token_ids=[1], size=8)
    assert vocabulary.token_bytes == (b"a", None, b"\xe4\xbd")
    assert vocabulary.eos_token_ids == frozenset({1})
    assert vocabulary.size == 8
    assert Vocabulary([b"a", None], eos_token_ids=[1]).size == 2
    assert Vocabulary([b"a"], eos_token_ids=[3], size=4).eos_token_ids == {3}
    assert "size=8" in repr(vocabulary)


def test_trie_is_built_once_from_the_table() -> None:
    vocabulary = Vocabulary([b"a", None, b"ab", "é".encode()], eos_token_ids=[1])
    trie = vocabulary.trie
    assert trie is vocabulary.trie
    assert [trie.token_bytes(i) for i in range(4)] == list(vocabulary.token_bytes)


def test_fingerprint_is_pinned() -> None:
    """Fingerprints are cache keys: they never change across runs, versions or platforms."""
    vocabulary = Vocabulary([b"a", None, b"bc"], eos_token_ids=[1])
    assert vocabulary.fingerprint == (
        "6876166e1fb5ff9acaa563c873048a836c434d15136ebc810eaa0efe4dd81431"
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (([b"a", None], [1], None), ([b"a", None], [1], 3)),
        (([b"a", None], [1], None), ([b"b", None], [1], None)),
        (([b"ab", None], [1], None), ([b"a", None, b"b"], [1], None)),
        (([b"a", None, None], [1], None), ([b"a", None, None], [2], None)),
        (([b"a", None, None], [1], None), ([b"a", None, None], [1, 2], None)),
        (([b"a", None], [1], 3), ([b"a", None, None], [1], None)),
    ],
)
def test_fingerprint_tells_tables_apart(left: tuple[Any, ...], right: tuple[Any, ...]) -> None:
    one = Vocabulary(left[0], eos_token_ids=left[1], size=left[2])
    other = Vocabulary(right[0], eos_token_ids=right[1], size=right[2])
    assert one.fingerprint != other.fingerprint
    assert one != other


@pytest.mark.parametrize(
    ("token_bytes", "eos", "size", "message"),
    [
        (["a", None], [1], None, "expected bytes or None, got str"),
        ([bytearray(b"a"), None], [1], None, "expected bytes or None, got bytearray"),
        ([b"", None], [1], None, "empty bytes"),
        ([b"a", None], [], None, "at least one end-of-sequence"),
        ([b"a", None], [2], None, r"outside \[0, 2\)"),
        ([b"a", None], [-1], None, "outside"),
        ([b"a", None], [0], None, "must be None"),
        ([b"a", None], [1], 1, "smaller than"),
    ],
)
def test_constructor_rejects(
    token_bytes: list[Any], eos: list[int], size: Any, message: str
) -> None:
    with pytest.raises(VocabularyError, match=message):
        Vocabulary(token_bytes, eos_token_ids=eos, size=size)


def test_vocabulary_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty bytes"):
        Vocabulary([b""], eos_token_ids=[1], size=2)


# --- the fixtures themselves -------------------------------------------------------------------


def test_load_tokenizer_is_cached_and_names_are_checked() -> None:
    name = TOKENIZER_NAMES[0]
    assert _load(name) is _load(name)
    with pytest.raises(KeyError, match="unknown tokenizer"):
        load_tokenizer("bert-30k")
    with pytest.raises(KeyError, match="unknown tokenizer"):
        tokenizer_source("bert-30k")


def test_gpt2_fixture_is_gpt2() -> None:
    """The GPT-2 fixture has tiktoken's GPT-2 ranks as token bytes and tokenizes like it."""
    tiktoken = pytest.importorskip("tiktoken")
    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    tokenizer = _load("gpt2-50k")
    ranks = tiktoken.load.load_tiktoken_bpe(str(tokenizer_source("gpt2-50k")))
    reference = tiktoken.Encoding(
        "gpt2",
        pat_str=openai_public.r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )
    vocabulary = Vocabulary.from_tokenizer(tokenizer)
    assert len(ranks) == 50256
    assert all(vocabulary.token_bytes[rank] == piece for piece, rank in ranks.items())
    texts = list(corpus(count=500, seed=3))
    ours = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert ours == reference.encode_ordinary_batch(texts)

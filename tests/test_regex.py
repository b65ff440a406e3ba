"""The regex front end: supported syntax means what Python's re.fullmatch means; unsupported
syntax is refused with the construct and its position; state limits are enforced."""

from __future__ import annotations

import re
import unicodedata
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from typedgen import RegexError, StateLimitError
from typedgen._fsm import RegexAutomaton
from typedgen._regex import MAX_NESTING, MAX_NODE_IDS, regex_to_nfa


def automaton(pattern: str, *, max_states: int = 10_000) -> RegexAutomaton:
    return RegexAutomaton(regex_to_nfa(pattern), pattern=pattern, max_states=max_states)


def accepts(pattern: str, text: str) -> bool:
    dfa = automaton(pattern)
    state = dfa.run(text.encode())
    return state >= 0 and dfa.is_accepting(state)


SUPPORTED = [
    ("", ["", "a"]),
    ("abc", ["abc", "ab", "abcd", ""]),
    ("a|bc|", ["a", "bc", "", "b", "abc"]),
    ("a*b+c?", ["b", "aabbc", "ac", "abcc", "aab"]),
    ("(ab){2,3}", ["ab", "abab", "ababab", "abababab"]),
    ("a{3}", ["aa", "aaa", "aaaa"]),
    ("a{2,}", ["a", "aa", "aaaaaaa"]),
    ("a{,2}", ["", "a", "aa", "aaa"]),
    ("a{0,0}b", ["b", "ab"]),
    ("x{", ["x{", "x"]),
    ("a{1,2", ["a{1,2", "a"]),
    ("a{x}", ["a{x}"]),
    ("a*?b+?c??d{1,2}?", ["bd", "abbcdd", "ad"]),
    ("(?:a|b)(?P<name>c)", ["ac", "bc", "cc"]),
    ("a(?#a comment)b", ["ab", "a(?#a comment)b"]),
    (".", ["a", "\n", "é", "😀", "\x00", "ab"]),
    ("[abc]", ["a", "c", "d", ""]),
    ("[^abc]", ["a", "d", "\n", "é", "😀"]),
    ("[a-fx-z0-9_]+", ["af09_", "g", "xyz"]),
    ("[]a]", ["]", "a", "b"]),
    ("[^]a]", ["]", "b"]),
    ("[a-]", ["a", "-", "b"]),
    ("[-a]", ["-", "a"]),
    ("[\\]\\\\\\-^]+", ["]\\-^", "a"]),
    ("[\\d\\s]+", ["1 2\t", "a"]),
    ("[^\\w]", ["a", "_", "-", "é"]),
    ("\\d\\D\\w\\W\\s\\S", ["1a_ \t.", "1ab\t.x", "1a_-\nx"]),
    ("\\d+", ["٣", "123"]),
    ("\\w+", ["é", "abc_1"]),
    ("\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\", [".*+?()[]{}|^$\\"]),
    ("\\a\\f\\n\\r\\t\\v\\0", ["\a\f\n\r\t\v\x00"]),
    ("\\x41\\u00e9\\U0001F600", ["Aé😀"]),
    ("\\101\\0101", ["AA", "A\x081"]),
    ("[\\x41-\\x43\\u00e9]+", ["ABCé", "D"]),
    ("[\\b]", ["\b", "b"]),
    ("\\N{LATIN SMALL LETTER E WITH ACUTE}", ["é", "e"]),
    ("é+|日本語", ["ééé", "日本語", "日本"]),
    ("[一-龥]{2}", ["日本", "日", "日本語", "ab"]),
    ("[😀-🙏]+", ["😀🙏", "😀a"]),
    ("[\u0080-\u07ff]", ["\u0080", "\u07ff", "\u0800", "\x7f"]),
    ("[\u0800-\uffff]", ["\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000"]),
    ("[\U00010000-\U0010ffff]", ["\U00010000", "\U0010ffff", "\uffff"]),
    ("[\ud000-\ue000]", ["\ud000", "\ud7ff", "\ue000"]),
    ("[^a]{2}", ["ab", "\U0010ffff\x00"]),
    ("^ab$|^c$", ["ab", "c", "abc"]),
    ("\\Aab\\Z", ["ab", "ab\n"]),
    ("(a|b*)*c", ["c", "abbac", "ab"]),
    ("((a*)*)*b", ["b", "aaab"]),
    ("(a?){3}b", ["b", "aab", "aaab", "aaaab"]),
    ("(|a)+", ["", "aaa"]),
    ("()*a", ["a"]),
    ("(a|b)*a(a|b){3}", ["aaaa", "babab", "abbb", "abbbb"]),
    ('\\{"a": (\\d+|"[^"\\\\]{0,3}")\\}', ['{"a": 12}', '{"a": "xyz"}', '{"a": "wxyz"}']),
]


@pytest.mark.parametrize(("pattern", "texts"), SUPPORTED)
def test_supported_syntax_means_what_re_fullmatch_means(pattern: str, texts: list[str]) -> None:
    compiled = re.compile(pattern, re.ASCII)
    for text in texts:
        assert accepts(pattern, text) == (compiled.fullmatch(text) is not None), text


UNSUPPORTED = [
    ("(a)\\1", "backreference", 3),
    ("(?P<x>a)(?P=x)", "backreference", 8),
    ("a(?=b)", "lookahead", 1),
    ("a(?!b)", "lookahead", 1),
    ("(?<=a)b", "lookbehind", 0),
    ("(?<!a)b", "lookbehind", 0),
    ("a^b", "anchor '^'", 1),
    ("a$b", "anchor '$'", 1),
    ("(^a)", "anchor '^'", 1),
    ("a\\bc", "word boundary", 1),
    ("\\B", "word boundary", 0),
    ("(?i)abc", "inline flags", 0),
    ("(?>a)", "atomic group", 0),
    ("a*+", "possessive", 2),
    ("(?(1)a|b)", "conditional", 0),
    ("a**", "multiple repeat", 2),
    ("*a", "nothing to repeat", 0),
    ("a|?", "nothing to repeat", 2),
    ("{2}", "nothing to repeat", 0),
    ("^*", "nothing to repeat", 1),
    ("(ab", "missing ')'", 0),
    ("ab)", "unbalanced parenthesis", 2),
    ("[ab", "unterminated character class", 0),
    ("[z-a]", "bad character range", 1),
    ("[\\d-z]", "bad character range", 1),
    ("a{3,2}", "max < min", 1),
    ("\\q", "bad escape", 0),
    ("\\x4", "hex digits", 0),
    ("\\", "bad escape", 0),
    ("\\N{NO SUCH CHARACTER}", "unknown character name", 0),
    ("(?P<1>a)", "bad group name", 0),
    ("\\777", "out of range", 0),
]


@pytest.mark.parametrize(("pattern", "construct", "position"), UNSUPPORTED)
def test_unsupported_syntax_names_the_construct_and_its_position(
    pattern: str, construct: str, position: int
) -> None:
    with pytest.raises(RegexError) as info:
        regex_to_nfa(pattern)
    assert construct in str(info.value)
    assert info.value.position == position
    assert info.value.pattern == pattern
    assert not isinstance(info.value, StateLimitError)


@pytest.mark.parametrize("pattern", ["[^\\x00-\\U0010ffff]", "a[\\ud800-\\udfff]", "\\ud800"])
def test_a_pattern_that_matches_nothing_is_refused(pattern: str) -> None:
    with pytest.raises(RegexError, match="matches no string"):
        regex_to_nfa(pattern)


def test_empty_alternatives_are_dropped() -> None:
    assert accepts("a|[^\\x00-\\U0010ffff]", "a")


def test_pattern_must_be_str() -> None:
    with pytest.raises(TypeError):
        regex_to_nfa(b"abc")  # type: ignore[arg-type]


def test_nfa_state_limit() -> None:
    with pytest.raises(StateLimitError) as info:
        regex_to_nfa("(abc){7}" * 20, max_nodes=500)
    assert info.value.limit == 500
    assert "NFA nodes (raise max_nodes" in str(info.value)
    regex_to_nfa("(abc){7}" * 10, max_nodes=500)


def test_long_counted_repeats_are_one_copy() -> None:
    nfa = regex_to_nfa("x(abc){2,1000}y")
    assert nfa.num_nodes < 20
    start, size, copies, lo, end, exit_node = nfa.blocks[0]
    assert (size, copies, lo) == (4, 1000, 2) and start < end < exit_node
    assert accepts("x(abc){2,1000}y", "x" + "abc" * 1000 + "y")
    assert not accepts("x(abc){2,1000}y", "x" + "abc" * 1001 + "y")
    assert not accepts("x(abc){2,1000}y", "xabcy")
    # a block inside a repeat is copied with it: a repeat holding a block is copied in full
    assert len(regex_to_nfa("(?:a{0,9}b){3}").blocks) == 3
    assert len(regex_to_nfa("(?:a{0,9}b){0,9}").blocks) == 9
    assert accepts("(?:a{0,9}b){0,9}", ("a" * 9 + "b") * 9)
    assert not accepts("(?:a{0,9}b){0,9}", ("a" * 9 + "b") * 10)
    with pytest.raises(StateLimitError) as info:
        regex_to_nfa("(abc){100000000}")
    assert info.value.limit == MAX_NODE_IDS


def test_dfa_state_limit_is_raised_when_reached() -> None:
    pattern = "(a|b)*a(a|b){12}"  # its minimal DFA has 2**13 states
    dfa = automaton(pattern, max_states=200)
    with pytest.raises(StateLimitError) as info:
        for i in range(2**13):
            dfa.run(format(i, "013b").translate({48: "a", 49: "b"}).encode())
    assert info.value.limit == 200
    assert info.value.pattern == pattern


def test_large_bounded_repetitions_compile_quickly_and_exactly() -> None:
    pattern = '"[^"\\\\]{0,1000}"'
    dfa = automaton(pattern, max_states=100_000)
    assert dfa.is_accepting(dfa.run(('"' + "é" * 1000 + '"').encode()))
    assert dfa.run(('"' + "a" * 1001).encode()) == -1
    assert dfa.states < 10_000  # states are built lazily, only along the strings run


def test_dfa_states_are_built_lazily() -> None:
    dfa = automaton("(a|b|c|d){0,500}")
    assert dfa.states == 1
    dfa.run(b"abcd")
    assert dfa.states == 5


def test_groups_nested_deeper_than_the_limit_are_refused() -> None:
    deep = "(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    assert accepts(deep, "a")
    with pytest.raises(RegexError, match="nested more than") as info:
        regex_to_nfa("(" + deep + ")")
    assert info.value.position == MAX_NESTING


def test_a_named_sequence_is_not_one_character() -> None:
    name = "LATIN CAPITAL LETTER A WITH MACRON AND GRAVE"
    assert len(unicodedata.lookup(name)) == 2  # a named sequence; re refuses it too
    with pytest.raises(RegexError, match="unknown character name"):
        regex_to_nfa(f"\\N{{{name}}}")


def test_a_group_name_defined_twice_is_refused_as_re_does() -> None:
    with pytest.raises(RegexError, match="redefinition of group name 'n'") as info:
        regex_to_nfa("(?P<n>a)|(?P<n>b)")
    assert info.value.position == 9


@pytest.mark.parametrize(
    ("pattern", "texts"),
    [
        ("a(?#c)*", ["", "a", "aaa"]),
        ("ab(?#c)+", ["ab", "abbb", "abab"]),
        ("(a|b)(?#c)(?#d){2}", ["ab", "a"]),
        ("(?#c)^a$(?#d)", ["a"]),
    ],
)
def test_a_comment_is_no_item_a_quantifier_after_it_repeats_the_item_before(
    pattern: str, texts: list[str]
) -> None:
    for text in texts:
        assert accepts(pattern, text) == (re.fullmatch(pattern, text) is not None), text


@pytest.mark.parametrize(
    ("pattern", "construct", "position"),
    [
        ("(?#c)*", "nothing to repeat", 5),
        ("a*(?#c)*", "multiple repeat", 7),
        ("a*(?#c)?", "multiple repeat", 7),
        ("^(?#c)+", "nothing to repeat", 6),
        ("a(?#c", "unterminated comment", 1),
    ],
)
def test_a_quantifier_after_a_comment_with_nothing_to_repeat_is_refused(
    pattern: str, construct: str, position: int
) -> None:
    with pytest.raises(re.error):
        re.compile(pattern)
    with pytest.raises(RegexError, match=construct) as info:
        regex_to_nfa(pattern)
    assert info.value.position == position


def test_repeat_counts_beyond_64_bits() -> None:
    with pytest.raises(StateLimitError):
        regex_to_nfa("a{99999999999999999999999}")
    with pytest.raises(RegexError, match="max < min") as info:
        regex_to_nfa("a{99999999999999999999,9999999999999999999}")
    assert "{99999999999999999999,9999999999999999999}" in str(info.value)
    assert info.value.position == 1
    assert accepts("(?:){99999999999999999999}b", "b")


# pieces of patterns, valid or not, that exercise every branch of the parser
PIECES = [
    *"ab.|()[]{}*+?^$-,0123\\é",
    *["{2}", "{1,2}", "{,1}", "{2,}", "(?:", "(?P<n>", "(?#c)", "[^", "\\d", "\\W", "\\s"],
    *["\\x4", "\\x41", "\\u00e9", "\\0", "\\12", "\\b", "\\A", "\\Z", "\\]", "\\-"],
]
TEXT_CHARS = "ab-,0123é\n .[]{}()\\^$|*+?AZ"


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
    texts=st.lists(st.text(st.sampled_from(TEXT_CHARS), max_size=5), max_size=10),
)
def test_what_re_refuses_is_refused_and_what_both_accept_means_the_same(
    pieces: list[str], texts: list[str]
) -> None:
    pattern = "".join(pieces)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(pattern, re.ASCII)
    except re.error:
        with pytest.raises(RegexError):
            regex_to_nfa(pattern)
        return
    try:
        dfa = automaton(pattern)
    except RegexError:
        return  # unsupported (lookarounds, inner anchors, ...), or it matches nothing
    for text in texts:
        state = dfa.run(text.encode())
        assert (state >= 0 and dfa.is_accepting(state)) == (compiled.fullmatch(text) is not None)

"""The exception tree of typedgen.

Every error that typedgen raises on purpose derives from :class:`TypedgenError`, and the ones
that describe bad input also derive from the builtin a caller would expect::

    TypedgenError
    ├── RegexError(ValueError)            a pattern uses unsupported syntax (construct, position)
    │   └── StateLimitError               the automaton would exceed its configured state limit
    ├── SchemaError(ValueError)           a type or JSON Schema cannot be honoured exactly
    │                                     (pointer, keyword)
    ├── UsageError(TypeError)             typedgen's API was called the wrong way (an unknown
    │                                     option key, a missing docstring, a misplaced model)
    ├── GrammarError(ValueError)          a grammar (Lark or GBNF) cannot be honoured exactly
    │   │                                 (rule, line)
    │   └── GrammarLimitError             a grammar would exceed a configured limit (option)
    ├── VocabularyError(ValueError)       a tokenizer's vocabulary cannot be mapped to bytes
    ├── GuideError(ValueError)            a token that the guide does not allow was fed to it
    ├── ModelError(RuntimeError)          a model cannot be built, loaded or used as asked
    │   ├── ModelNotInstalledError        the embedded default model's package is missing
    │   └── ServerError                   an OpenAI-compatible server failed a request, or
    │                                     cannot enforce constraints (no typedgen processor)
    ├── GenerationError(RuntimeError)     generation ended before the constraint was complete,
    │   │                                 or produced text the target type rejects (raw text kept)
    │   └── TruncatedGenerationError      cut by max_tokens / a stop string: raw text attached
    └── NotSupportedError(NotImplementedError)  a feature that is planned but not available yet

Errors never hide output: a :class:`GenerationError` carries the raw generated text and the
finish reason reported by the engine.
"""

from __future__ import annotations

__all__ = [
    "GenerationError",
    "GrammarError",
    "GrammarLimitError",
    "GuideError",
    "ModelError",
    "ModelNotInstalledError",
    "NotSupportedError",
    "RegexError",
    "SchemaError",
    "ServerError",
    "StateLimitError",
    "TruncatedGenerationError",
    "TypedgenError",
    "UsageError",
    "VocabularyError",
]


class TypedgenError(Exception):
    """Root of every exception raised by typedgen on purpose."""


class RegexError(TypedgenError, ValueError):
    """A regular expression cannot be compiled.

    ``pattern`` is the offending pattern and ``position`` the index of the construct at fault
    (``None`` when the whole pattern is at fault).
    """

    def __init__(self, message: str, *, pattern: str, position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where} in pattern {_clip(pattern)!r}")
        self.pattern = pattern
        self.position = position


class StateLimitError(RegexError):
    """Building the automaton would exceed ``limit`` DFA states (``option`` ``"max_states"``)
    or NFA nodes (``"max_nodes"``); raise that option or simplify the pattern."""

    def __init__(self, *, pattern: str, limit: int, option: str = "max_states") -> None:
        what = "NFA nodes" if option == "max_nodes" else "states"
        super().__init__(
            f"the automaton needs more than {limit} {what} (raise {option} or simplify)",
            pattern=pattern,
        )
        self.limit = limit
        self.option = option


class SchemaError(TypedgenError, ValueError):
    """A type or JSON Schema cannot be turned into an exact constraint.

    ``pointer`` is the JSON pointer (RFC 6901) of the schema location at fault, ``keyword`` the
    keyword that cannot be honoured (``None`` when the location as a whole is at fault).
    """

    def __init__(self, message: str, *, pointer: str = "", keyword: str | None = None) -> None:
        at = f"{pointer}/{escape_pointer_token(keyword)}" if keyword is not None else pointer
        super().__init__(f"{message} (at {at or '/'!s})")
        self.reason = message
        self.pointer = pointer
        self.keyword = keyword


class UsageError(TypedgenError, TypeError):
    """typedgen's API was used the wrong way: an argument of the wrong kind or in the wrong
    place, or an option that does not exist. The message says what was expected. (Constraints
    that cannot be honoured raise :class:`SchemaError` or :class:`RegexError` instead.)"""


class GrammarError(TypedgenError, ValueError):
    """A context-free grammar cannot be compiled into an exact constraint.

    ``rule`` is the rule or terminal at fault and ``line`` its line in the grammar text (1-based;
    ``None`` when unknown, e.g. for a terminal imported from lark's ``common`` library).
    """

    def __init__(self, message: str, *, rule: str | None = None, line: int | None = None) -> None:
        where = []
        if rule is not None:
            where.append(f"rule {rule!r}")
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.reason = message
        self.rule = rule
        self.line = line


class GrammarLimitError(GrammarError):
    """A grammar would need more than ``limit`` of what ``option`` bounds: ``"max_states"``
    (parser states), ``"max_stack_depth"`` (rules open at one point of the text),
    ``"max_threads"`` (simultaneous parses of one prefix) or ``"timeout"`` (seconds to
    compile); raise that option or simplify the grammar."""

    def __init__(self, message: str, *, option: str, limit: float) -> None:
        super().__init__(f"{message}: more than {limit} (raise {option} or simplify the grammar)")
        self.option = option
        self.limit = limit


class VocabularyError(TypedgenError, ValueError):
    """A tokenizer's tokens cannot be mapped to the exact bytes they produce."""


class GuideError(TypedgenError, ValueError):
    """A guide was advanced with a token that is not allowed in the current state."""


class ModelError(TypedgenError, RuntimeError):
    """A model cannot be built, loaded or used the way it was asked."""


class ModelNotInstalledError(ModelError):
    """The package that carries the embedded default model is not installed."""


class ServerError(ModelError):
    """An OpenAI-compatible server (:func:`typedgen.models.openai`) could not be reached,
    refused or failed a request, or runs without typedgen's logits processor (so it would
    return unconstrained text). ``status`` is the HTTP status, ``None`` when no reply came."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message if status is None else f"{message} (HTTP {status})")
        self.status = status


class GenerationError(TypedgenError, RuntimeError):
    """Generation did not produce a valid instance; ``text`` keeps what was generated.

    ``finish_reason`` is the engine's reason (``"length"``, ``"stop"``, ...).
    """

    def __init__(self, message: str, *, text: str, finish_reason: str | None = None) -> None:
        super().__init__(f"{message} (finish_reason={finish_reason!r}, text={_clip(text)!r})")
        self.text = text
        self.finish_reason = finish_reason


class TruncatedGenerationError(GenerationError):
    """Generation stopped (max_tokens, a stop string) before the constraint was complete."""


class NotSupportedError(TypedgenError, NotImplementedError):
    """A feature that typedgen does not provide yet."""


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def escape_pointer_token(token: str) -> str:
    """``token`` escaped for use as one segment of a JSON pointer (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")

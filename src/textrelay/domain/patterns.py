"""Regular expressions that users supply, evaluated in time linear in the text searched.

Python's `re` backtracks: `^(a+)+$` over 26 `a`s and a `!` takes seconds, and it runs on the
event loop every tenant shares (issue 12 #4). RE2 (the `google-re2` binding) never backtracks,
so a search costs O(pattern * text) at worst. The price is the syntax RE2 leaves out:
backreferences (`\\1`, `(?P=name)`), lookaround (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`),
atomic groups, possessive quantifiers, conditionals and `\\Z` (write `\\z`); and `\\d`, `\\w`,
`\\s`, `\\b` match ASCII only. docs/simulator.md and docs/control-api.md say so.

A pattern RE2 refuses, one longer than MAX_PATTERN_LENGTH, or one whose compiled program
would need more than `_MAX_PROGRAM_BYTES` raises PatternError, which callers turn into their
own 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
"""Characters in one pattern; longer ones are refused before RE2 parses them."""

_MAX_PROGRAM_BYTES = 2 << 20
"""RE2's memory budget for one compiled pattern; `\\pL{1000}` and the like go over it."""


class PatternError(ValueError):
    """A pattern textrelay will not run; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled user pattern; `search` is Python's `re.search` (anywhere in the text)."""

    text: str
    _compiled: Any

    def search(self, subject: str) -> bool:
        try:
            return self._compiled.search(subject) is not None
        except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8 only
            return self._compiled.search(_encodable(subject)) is not None


def compile_pattern(text: str) -> Pattern:
    """The pattern compiled by RE2, or PatternError."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(
            f"the pattern is {len(text)} characters long; the limit is {MAX_PATTERN_LENGTH}"
        )
    return _compiled(text)


def search(pattern: str, subject: str) -> bool:
    """Whether `pattern` matches anywhere in `subject` (PatternError if it cannot run)."""
    return compile_pattern(pattern).search(subject)


@lru_cache(maxsize=256)
def _compiled(text: str) -> Pattern:
    # Failures are not cached (lru_cache keeps only results): each refused call parses again,
    # bounded by MAX_PATTERN_LENGTH.
    options = re2.Options()
    options.log_errors = False  # RE2 would log each refused pattern on stderr
    options.max_mem = _MAX_PROGRAM_BYTES
    try:
        return Pattern(text, re2.compile(text, options))
    except UnicodeEncodeError:
        raise PatternError("the pattern is not valid Unicode (a lone surrogate)") from None
    except re2.error as exc:
        raise PatternError(_reason(exc)) from None


_MAX_REASON_LENGTH = 120


def _reason(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else "not a regular expression"
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    detail = str(detail)
    if len(detail) > _MAX_REASON_LENGTH:  # RE2 quotes the rest of the pattern
        detail = detail[: _MAX_REASON_LENGTH - 1] + "…"
    return f"{detail} (textrelay uses RE2 syntax: no backreferences or lookaround)"


def _encodable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")

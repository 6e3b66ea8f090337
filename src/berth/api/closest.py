"""The closest name to a mistyped one: the "did you mean" of every message that names a field, flag or kind.

One rule, so that `berth explain`, the loader, the API server, the client and the CLI suggest alike: the
same word in another case first (`trainingWorkload` means `TrainingWorkload`), else the closest spelling
that is similar enough (difflib's ratio of at least 0.6), else nothing: a far-fetched guess is worse than
none.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a mistyped `word` (same word in another case first), or None."""
    choices = list(choices)
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[found[0]]] if found else []
    return close[0] if close else None

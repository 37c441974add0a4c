"""Small helpers for text shown to people: counts with the right plural."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 shock', '3 shocks', '1,000 runs': the count and the word in the right number."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"

"""Outcome expressions and measure formulas, parsed by a small recursive-descent parser (no `eval`).

Two uses share one grammar:

* `discover --where`: a condition on each run's outcomes, e.g.
  `balance[kazakhstan]@60 < 0 and member.csto[kyrgyzstan]@60 == 0`;
* target files: a formula over measures, e.g.
  `share.china.economy[kazakhstan] - share.russia.economy[kazakhstan]`
  (the month comes from the target's period, so no `@`).

Grammar (whitespace is free; `and`, `or`, `not` are words)::

    condition  := disjunct ('or' disjunct)*
    disjunct   := negation ('and' negation)*
    negation   := 'not' negation | '(' condition ')' | comparison
    comparison := sum OP sum                      OP: < <= > >= == !=
    sum        := term (('+' | '-') term)*
    term       := NUMBER | '-' term | reference
    reference  := MEASURE ['[' ACTOR ']'] ['@' MONTH]

MEASURE is a dotted measure name (`share.china.economy`); ACTOR a regional
state or outside power (none: the region as a whole); MONTH a model month
(`60`) or a calendar month (`2027-03`). A user's text is never executed:
anything outside the grammar is an `ExpressionError` that points at the
offending character.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

COMPARISONS: dict[str, Callable] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<month>\d{4}-\d{2}(?![\d.]))|(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"|(?P<op><=|>=|==|!=|<|>|\+|-|\(|\)|\[|\]|@))"
)
WORDS = ("and", "or", "not")


class ExpressionError(ValueError):
    """Text that is not a valid expression; `position` is the 0-based character at fault."""

    def __init__(self, text: str, position: int, message: str) -> None:
        super().__init__(text, position, message)
        self.text, self.position, self.message = text, position, message

    def __str__(self) -> str:
        return f"'{self.text}': {self.message} (at character {self.position + 1})"


# ------------------------------------------------------------------------ the tree


@dataclass(frozen=True)
class Ref:
    """A measure of an actor (`region` for the whole region), at a month (None: given elsewhere)."""

    measure: str
    actor: str
    month: int | str | None  # a model month, or a calendar month 'YYYY-MM' to resolve
    position: int = field(default=0, compare=False)  # where it was written, for messages

    @property
    def name(self) -> str:
        """`measure` for the region, `measure[actor]` otherwise (as sweep outcome columns)."""
        return self.measure if self.actor == "region" else f"{self.measure}[{self.actor}]"


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Sum:
    """terms[0] +/- terms[1] +/- ...: `signs` holds +1 or -1 per term."""

    terms: tuple[Num | Ref | Sum, ...]
    signs: tuple[int, ...]


@dataclass(frozen=True)
class Compare:
    left: Num | Ref | Sum
    op: str
    right: Num | Ref | Sum


@dataclass(frozen=True)
class Logic:
    """`and` / `or` of parts, or `not` of one part."""

    op: str
    parts: tuple[Compare | Logic, ...]


Term = Num | Ref | Sum
Condition = Compare | Logic


def references(node: Term | Condition) -> Iterator[Ref]:
    """Every measure reference in the tree, in reading order."""
    if isinstance(node, Ref):
        yield node
    elif isinstance(node, Sum):
        for t in node.terms:
            yield from references(t)
    elif isinstance(node, Compare):
        yield from references(node.left)
        yield from references(node.right)
    elif isinstance(node, Logic):
        for p in node.parts:
            yield from references(p)


def evaluate(node: Term | Condition, value: Callable[[Ref], object]) -> Any:
    """The expression's value, with `value(ref)` giving each reference (numbers or numpy arrays)."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return value(node)
    if isinstance(node, Sum):
        total = 0.0
        for sign, term in zip(node.signs, node.terms, strict=True):
            total = total + sign * evaluate(term, value)
        return total
    if isinstance(node, Compare):
        left, right = evaluate(node.left, value), evaluate(node.right, value)
        if node.op in ("==", "!="):
            # Measures such as membership are stored as floats (0.0 / 1.0): compare to rounding.
            import numpy as np

            same = np.abs(np.asarray(left) - np.asarray(right)) <= 1e-9
            return same if node.op == "==" else ~same
        return COMPARISONS[node.op](left, right)
    if node.op == "not":
        return ~evaluate(node.parts[0], value)
    result = evaluate(node.parts[0], value)
    for part in node.parts[1:]:
        other = evaluate(part, value)
        result = (result & other) if node.op == "and" else (result | other)
    return result


# ------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Tok:
    kind: str  # month, number, name, op, end
    text: str
    position: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            bad = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise ExpressionError(text, bad, f"unexpected character '{text[bad]}'")
        out.append(_Tok(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup)))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


MAX_DEPTH = 100  # nesting of an expression: deeper is a typo or an attack, not a question


class _Parser:
    def __init__(self, text: str, months: bool) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.months = months  # whether references carry `@MONTH`
        self.depth = 0  # of `not`, `(` and unary `-` (Python's stack is the limit otherwise)

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} deep (parentheses, 'not' or '-')")

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> ExpressionError:
        tok = tok or self.tok
        return ExpressionError(self.text, tok.position, message)

    def take(self, text: str) -> bool:
        if self.tok.kind in ("op", "name") and self.tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str, what: str) -> None:
        if not self.take(text):
            raise self.fail(f"expected {what}, found {self._shown()}")

    def _shown(self) -> str:
        return "the end" if self.tok.kind == "end" else f"'{self.tok.text}'"

    def end(self) -> None:
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self._shown()} after a complete expression")

    # condition level
    def condition(self) -> Condition:
        parts = [self.disjunct()]
        while self.take("or"):
            parts.append(self.disjunct())
        return parts[0] if len(parts) == 1 else Logic("or", tuple(parts))

    def disjunct(self) -> Condition:
        parts = [self.negation()]
        while self.take("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def negation(self) -> Condition:
        if self.take("not"):
            self.deeper()
            negated = Logic("not", (self.negation(),))
            self.depth -= 1
            return negated
        if self.take("("):
            self.deeper()
            inner = self.condition()
            self.expect(")", "')'")
            self.depth -= 1
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        left = self.sum()
        tok = self.tok
        if not (tok.kind == "op" and tok.text in COMPARISONS):
            raise self.fail(f"expected a comparison (< <= > >= == !=), found {self._shown()}")
        self.i += 1
        right = self.sum()
        if not any(True for _ in references(left)) and not any(True for _ in references(right)):
            raise self.fail("a comparison needs a measure on one side", tok)
        return Compare(left, tok.text, right)

    # arithmetic level
    def sum(self) -> Term:
        terms, signs = [self.term()], [1]
        while self.tok.kind == "op" and self.tok.text in "+-" and self.tok.text:
            signs.append(1 if self.tok.text == "+" else -1)
            self.i += 1
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Sum(tuple(terms), tuple(signs))

    def term(self) -> Term:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return Num(float(tok.text))
        if tok.kind == "op" and tok.text == "-":
            self.i += 1
            self.deeper()
            negated = Sum((self.term(),), (-1,))
            self.depth -= 1
            return negated
        if tok.kind == "name" and tok.text not in WORDS:
            return self.reference()
        raise self.fail(f"expected a measure or a number, found {self._shown()}")

    def reference(self) -> Ref:
        tok = self.tok
        self.i += 1
        actor = "region"
        if self.take("["):
            if self.tok.kind != "name" or "." in self.tok.text:
                raise self.fail(f"expected an actor id inside [ ], found {self._shown()}")
            actor = self.tok.text
            self.i += 1
            self.expect("]", "']'")
        month: int | str | None = None
        if self.take("@"):
            if not self.months:
                raise self.fail("no '@MONTH' here: the month comes from the target's period")
            if self.tok.kind == "number" and self.tok.text.isdigit():
                month = int(self.tok.text)
            elif self.tok.kind == "month":
                month = self.tok.text
            else:
                raise self.fail(f"expected a month after '@' (60 or 2027-03), found {self._shown()}")
            self.i += 1
        elif self.months:
            raise self.fail(f"'{tok.text}' needs a month: write {tok.text}@MONTH, e.g. {tok.text}@60", tok)
        return Ref(tok.text, actor, month, tok.position)


def parse_condition(text: str) -> Condition:
    """Parse a `--where` condition: references carry `@MONTH`."""
    parser = _Parser(text, months=True)
    if parser.tok.kind == "end":
        raise parser.fail("empty expression (expected e.g. balance@60 < 0)")
    node = parser.condition()
    parser.end()
    return node


def parse_formula(text: str) -> Term:
    """Parse a measure formula of a target (no comparison, no `@MONTH`)."""
    parser = _Parser(text, months=False)
    if parser.tok.kind == "end":
        raise parser.fail("empty formula (expected a measure, e.g. share.china.economy[kazakhstan])")
    node = parser.sum()
    parser.end()
    if not any(True for _ in references(node)):
        raise parser.fail("the formula names no measure")
    return node


def slug(text: str, limit: int = 60) -> str:
    """A folder name for an expression: `balance@60 < 0` -> `balance-60-lt-0`."""
    words = {"<=": " le ", ">=": " ge ", "==": " eq ", "!=": " ne ", "<": " lt ", ">": " gt "}
    for op, word in words.items():
        text = text.replace(op, word)
    text = re.sub(r"[^a-z0-9]+", "-", text.lower().replace("-", " minus ")).strip("-")
    return text[:limit].rstrip("-") or "outcome"

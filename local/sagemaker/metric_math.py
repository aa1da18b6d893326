"""CloudWatch metric math, the subset an alarm's expression needs, with CloudWatch's semantics.

An expression combines the time series of an alarm's queries (named by their ids) and numbers with
`+ - * / ^`, unary minus, the comparisons `== != < <= > >=`, `AND`/`&&`, `OR`/`||`, `IF(condition,
trueValue[, falseValue])` and parentheses. It is parsed into a tree (no `eval`) and evaluated one
timestamp at a time, as the CloudWatch user guide ("Metric math syntax and functions") specifies:

- between two time series, a timestamp where only one of them has a value takes 0 for the other;
- between a time series and a number, the result has the series' timestamps;
- a datapoint whose computation divides by zero is dropped (so are other undefined results);
- comparisons and logical operators yield 1 (true) or 0 (false);
- `IF(c, a, b)` keeps the timestamps of `c`: where `c` is not 0 it takes `a` (0 where the series `a`
  has no value), else `b` (dropped where the series `b` has no value, or when `b` is left out).

Any other function (`FILL`, `METRICS`, `SUM`, ...) is refused with a `MetricMathError` that names it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A time series: period start (epoch seconds) -> value. A number is a plain float.
Series = dict[int, float]
Value = float | Series

SUPPORTED = "+ - * / ^, unary minus, == != < <= > >=, AND (&&), OR (||), IF(...), parentheses, numbers and query ids"
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/^<>(),\[\]])
  | (?P<string>"[^"]*"|'[^']*')
""",
    re.VERBOSE,
)


class MetricMathError(ValueError):
    """The expression cannot be evaluated: the message names the problem and the expression."""


@dataclass(frozen=True)
class _Token:
    kind: str  # number, id, name, op, string, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise MetricMathError(f"unexpected character {text[position]!r} at position {position + 1}")
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "word":
            # Ids start with a lower-case letter; functions and AND/OR are written in upper case.
            kind = "id" if value[0].islower() else "name"
        if kind != "space":
            found.append(_Token(kind, value, position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


# --- evaluation of one operator over numbers and series ----------------------------------------


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _divide(a: float, b: float) -> float | None:
    return None if b == 0 else _finite(a / b)


def _power(a: float, b: float) -> float | None:
    try:
        return _finite(math.pow(a, b))
    except (ValueError, OverflowError, ZeroDivisionError):
        return None


_BINARY: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: _finite(a + b),
    "-": lambda a, b: _finite(a - b),
    "*": lambda a, b: _finite(a * b),
    "/": _divide,
    "^": _power,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
    "AND": lambda a, b: float(a != 0 and b != 0),
    "OR": lambda a, b: float(a != 0 or b != 0),
}


def _apply(operator: str, left: Value, right: Value) -> Value:
    operation = _BINARY[operator]
    if not isinstance(left, dict) and not isinstance(right, dict):
        # A number with no value (NaN, from a division by zero) stays without one: dropped where it lands.
        result = None if math.isnan(left) or math.isnan(right) else operation(left, right)
        return math.nan if result is None else result
    if isinstance(left, dict) and isinstance(right, dict):
        stamps = sorted(left.keys() | right.keys())
        pairs = [(stamp, left.get(stamp, 0.0), right.get(stamp, 0.0)) for stamp in stamps]
    elif isinstance(left, dict):
        pairs = [(stamp, value, float(right)) for stamp, value in left.items()]  # type: ignore[arg-type]
    else:
        assert isinstance(right, dict)
        pairs = [(stamp, float(left), value) for stamp, value in right.items()]
    out: Series = {}
    for stamp, a, b in pairs:
        if math.isnan(a) or math.isnan(b):
            continue
        result = operation(a, b)
        if result is not None:
            out[stamp] = result
    return out


def _series_value(value: Value, stamp: int, missing: float | None) -> float | None:
    if isinstance(value, dict):
        return value.get(stamp, missing)
    return None if math.isnan(value) else value


# --- the expression tree ----------------------------------------------------------------------------


class _Node:
    def evaluate(self, series: Mapping[str, Series]) -> Value:
        raise NotImplementedError

    def ids(self) -> set[str]:
        return set()


@dataclass(frozen=True)
class _Number(_Node):
    value: float

    def evaluate(self, series: Mapping[str, Series]) -> Value:
        return self.value


@dataclass(frozen=True)
class _Ref(_Node):
    name: str

    def evaluate(self, series: Mapping[str, Series]) -> Value:
        return dict(series[self.name])

    def ids(self) -> set[str]:
        return {self.name}


@dataclass(frozen=True)
class _Negate(_Node):
    operand: _Node

    def evaluate(self, series: Mapping[str, Series]) -> Value:
        return _apply("*", -1.0, self.operand.evaluate(series))

    def ids(self) -> set[str]:
        return self.operand.ids()


@dataclass(frozen=True)
class _Binary(_Node):
    operator: str
    left: _Node
    right: _Node

    def evaluate(self, series: Mapping[str, Series]) -> Value:
        return _apply(self.operator, self.left.evaluate(series), self.right.evaluate(series))

    def ids(self) -> set[str]:
        return self.left.ids() | self.right.ids()


@dataclass(frozen=True)
class _If(_Node):
    condition: _Node
    when_true: _Node
    when_false: _Node | None

    def evaluate(self, series: Mapping[str, Series]) -> Value:
        condition = self.condition.evaluate(series)
        when_true = self.when_true.evaluate(series)
        when_false = self.when_false.evaluate(series) if self.when_false is not None else None
        if not isinstance(condition, dict):
            if math.isnan(condition):  # a condition with no value selects nothing
                return {}
            if condition != 0:
                return when_true
            return when_false if when_false is not None else {}
        out: Series = {}
        for stamp, test in condition.items():
            if test != 0:
                chosen = _series_value(when_true, stamp, missing=0.0)
            elif when_false is None:
                chosen = None
            else:
                chosen = _series_value(when_false, stamp, missing=None)
            if chosen is not None:
                out[stamp] = chosen
        return out

    def ids(self) -> set[str]:
        found = self.condition.ids() | self.when_true.ids()
        return found | (self.when_false.ids() if self.when_false is not None else set())


# --- the parser ---------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent, loosest binding first: OR, AND, comparisons, + -, * /, unary -, ^."""

    _COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")

    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._index = 0

    @property
    def _current(self) -> _Token:
        return self._tokens[self._index]

    def _take(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _expect(self, text: str) -> None:
        token = self._take()
        if token.text != text:
            raise MetricMathError(f"expected {text!r} at position {token.at + 1}, found {self._shown(token)}")

    @staticmethod
    def _shown(token: _Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    @staticmethod
    def _unexpected(token: _Token) -> MetricMathError:
        if token.kind == "end":
            return MetricMathError("the expression ends where an operand is expected")
        return MetricMathError(f"unexpected {token.text!r} at position {token.at + 1}")

    def parse(self) -> _Node:
        node = self._or()
        if self._current.kind != "end":
            raise self._unexpected(self._current)
        return node

    def _or(self) -> _Node:
        node = self._and()
        while self._current.text in ("OR", "||"):
            self._take()
            node = _Binary("OR", node, self._and())
        return node

    def _and(self) -> _Node:
        node = self._comparison()
        while self._current.text in ("AND", "&&"):
            self._take()
            node = _Binary("AND", node, self._comparison())
        return node

    def _comparison(self) -> _Node:
        node = self._additive()
        while self._current.kind == "op" and self._current.text in self._COMPARISONS:
            operator = self._take().text
            node = _Binary(operator, node, self._additive())
        return node

    def _additive(self) -> _Node:
        node = self._multiplicative()
        while self._current.kind == "op" and self._current.text in ("+", "-"):
            operator = self._take().text
            node = _Binary(operator, node, self._multiplicative())
        return node

    def _multiplicative(self) -> _Node:
        node = self._unary()
        while self._current.kind == "op" and self._current.text in ("*", "/"):
            operator = self._take().text
            node = _Binary(operator, node, self._unary())
        return node

    def _unary(self) -> _Node:
        if self._current.kind == "op" and self._current.text == "-":
            self._take()
            return _Negate(self._unary())
        return self._power()

    def _power(self) -> _Node:
        node = self._primary()
        if self._current.kind == "op" and self._current.text == "^":
            self._take()
            return _Binary("^", node, self._unary())  # right-associative: 2^3^2 is 2^(3^2)
        return node

    def _primary(self) -> _Node:
        token = self._take()
        if token.kind == "number":
            return _Number(float(token.text))
        if token.kind == "id":
            if self._current.text == "(":
                raise MetricMathError(
                    f"{token.text}(...) at position {token.at + 1}: functions are written "
                    f"in upper case ({token.text.upper()})"
                )
            return _Ref(token.text)
        if token.kind == "name" and token.text not in ("AND", "OR"):
            if token.text != "IF":
                raise MetricMathError(
                    f"the metric math function {token.text} is not supported by the local "
                    f"alarm evaluator; it evaluates {SUPPORTED}"
                )
            return self._if(token)
        if token.text == "(":
            node = self._or()
            self._expect(")")
            return node
        if token.text == "[":
            raise MetricMathError(
                f"arrays of time series ([...] at position {token.at + 1}) are not supported by "
                f"the local alarm evaluator; it evaluates {SUPPORTED}"
            )
        raise self._unexpected(token)

    def _if(self, name: _Token) -> _Node:
        self._expect("(")
        arguments = [self._or()]
        while self._current.text == ",":
            self._take()
            arguments.append(self._or())
        self._expect(")")
        if len(arguments) not in (2, 3):
            raise MetricMathError(
                f"IF at position {name.at + 1} takes 2 or 3 arguments (condition, trueValue, "
                f"falseValue), not {len(arguments)}"
            )
        return _If(arguments[0], arguments[1], arguments[2] if len(arguments) == 3 else None)


class Expression:
    """A parsed metric math expression; `evaluate` gives the time series it yields."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._tree = _Parser(text).parse()
        except MetricMathError as error:
            raise MetricMathError(f"metric math expression {text!r}: {error}") from None

    @property
    def ids(self) -> set[str]:
        """The query ids the expression reads."""
        return self._tree.ids()

    def evaluate(self, series: Mapping[str, Series]) -> Series:
        unknown = self.ids - series.keys()
        if unknown:
            raise MetricMathError(
                f"metric math expression {self.text!r} names {', '.join(sorted(unknown))}, "
                f"which no query provides (known ids: {', '.join(sorted(series)) or 'none'})"
            )
        result = self._tree.evaluate(series)
        if not isinstance(result, dict):
            raise MetricMathError(
                f"metric math expression {self.text!r} yields a single number, not a time "
                "series; an alarm needs a time series (use a query id in it)"
            )
        return result

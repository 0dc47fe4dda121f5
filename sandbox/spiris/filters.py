"""A small OData `$filter` subset: eq ne gt ge lt le, and/or/not, parentheses, contains(Field,'x'),
negated field operands (`-TotalAmount`), literals (numbers, 'strings', true/false/null, dates).
Anything else is a QueryParameterError (6000), as Spiris answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<date>\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)"
    r"|(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),-]))"
)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}


class FilterError(ValueError):
    pass


def _tokens(expression: str) -> list[tuple[str, str]]:
    position, result = 0, []
    expression = expression.strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise FilterError(f"Unsupported $filter syntax near position {position}.")
        kind = match.lastgroup or ""
        result.append((kind, match.group(kind)))
        position = match.end()
        while position < len(expression) and expression[position].isspace():
            position += 1
    return result


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return None


def _compare(left: Any, op: str, right: Any) -> bool:
    left_dt, right_dt = _as_datetime(left), _as_datetime(right)
    if left_dt is not None and right_dt is not None:
        left, right = left_dt, right_dt
    if isinstance(left, (int, Decimal)) and not isinstance(left, bool):
        left = Decimal(left)
    if isinstance(right, (int, Decimal)) and not isinstance(right, bool):
        right = Decimal(right)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("Unexpected end of $filter.")
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise FilterError(f"Expected '{value}' in $filter.")

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"Unexpected '{self.peek()[1]}' in $filter.")  # type: ignore[index]
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek() == ("name", "or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == ("name", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def unary(self) -> Predicate:
        token = self.peek()
        if token == ("name", "not"):
            self.take()
            inner = self.unary()
            return lambda item: not inner(item)
        if token == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token == ("name", "contains"):
            self.take()
            self.expect("(")
            field = self.take()
            if field[0] != "name":
                raise FilterError("contains() needs a field name.")
            self.expect(",")
            needle = self.operand()
            self.expect(")")
            name = field[1]
            return lambda item: isinstance(item.get(name), str) and str(needle(item)).lower() in item[name].lower()
        left = self.operand()
        op = self.take()
        if op[0] != "name" or op[1] not in COMPARISONS:
            raise FilterError(f"Unsupported operator '{op[1]}' in $filter.")
        right = self.operand()
        return lambda item: _compare(left(item), op[1], right(item))

    def operand(self) -> Callable[[dict[str, Any]], Any]:
        kind, text = self.take()
        if kind == "punct" and text == "-":
            inner = self.operand()

            def negated(item: dict[str, Any]) -> Any:
                value = inner(item)
                if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                    return -Decimal(value)
                return None

            return negated
        if kind == "str":
            literal = text[1:-1].replace("''", "'")
            return lambda item: literal
        if kind == "num":
            try:
                number = Decimal(text)
            except InvalidOperation as exc:
                raise FilterError("Bad number in $filter.") from exc
            return lambda item: number
        if kind == "date":
            return lambda item: text
        if kind == "name":
            if text in ("true", "false"):
                flag = text == "true"
                return lambda item: flag
            if text == "null":
                return lambda item: None
            if text in COMPARISONS or text in ("and", "or", "not"):
                raise FilterError(f"Unexpected '{text}' in $filter.")
            return lambda item: item.get(text)
        raise FilterError(f"Unsupported '{text}' in $filter.")


def compile_filter(expression: str) -> Predicate:
    return _Parser(_tokens(expression)).parse()

"""DynamoDB's expression language parsed into small trees: condition, filter and key
condition expressions, update expressions and projection expressions.

Names (`#n`) and values (`:v`) are resolved while parsing, so a tree holds attribute names
and typed values only; `Parser.unused()` tells which of the request's placeholders no
expression used (AWS refuses those). Errors use AWS's wording:
`Invalid <Kind>Expression: Syntax error; token: "<token>", near: "<text>"`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import NoReturn

from ember.tables.errors import TableValidationError
from ember.tables.values import Value, check_value

PathElement = str | int


@dataclasses.dataclass(frozen=True, slots=True)
class Path:
    elements: tuple[PathElement, ...]

    def text(self) -> str:
        out = ""
        for e in self.elements:
            out += f"[{e}]" if isinstance(e, int) else (f".{e}" if out else e)
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Const:
    value: Value


@dataclasses.dataclass(frozen=True, slots=True)
class Size:
    path: Path


@dataclasses.dataclass(frozen=True, slots=True)
class Compare:
    op: str  # = <> < <= > >=
    left: Operand
    right: Operand


@dataclasses.dataclass(frozen=True, slots=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclasses.dataclass(frozen=True, slots=True)
class In:
    subject: Operand
    options: tuple[Operand, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Logic:
    op: str  # AND OR
    left: Condition
    right: Condition


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    inner: Condition


@dataclasses.dataclass(frozen=True, slots=True)
class Function:
    name: str  # attribute_exists attribute_not_exists attribute_type begins_with contains
    args: tuple[Operand, ...]


Operand = Path | Const | Size
Condition = Compare | Between | In | Logic | Not | Function


@dataclasses.dataclass(frozen=True, slots=True)
class Arithmetic:
    op: str  # + -
    left: SetValue
    right: SetValue


@dataclasses.dataclass(frozen=True, slots=True)
class IfNotExists:
    path: Path
    fallback: SetValue


@dataclasses.dataclass(frozen=True, slots=True)
class ListAppend:
    left: SetValue
    right: SetValue


SetValue = Path | Const | Arithmetic | IfNotExists | ListAppend


@dataclasses.dataclass(frozen=True, slots=True)
class Action:
    kind: str  # SET REMOVE ADD DELETE
    path: Path
    value: SetValue | None = None


_TOKEN = re.compile(
    r"\s*(?:(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9]+)|(?P<op><>|<=|>=|[=<>()\[\],.+\-]))"
)
_COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})
_CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
}
_UPDATE_CLAUSES = frozenset({"SET", "REMOVE", "ADD", "DELETE"})


class Parser:
    """Parses a request's expressions against its ExpressionAttributeNames/Values."""

    def __init__(self, names: object, values: object) -> None:
        if names is not None and (not isinstance(names, dict) or not names):
            raise TableValidationError(
                "ExpressionAttributeNames can only be specified when using expressions"
                if names is None
                else "ExpressionAttributeNames must not be empty"
            )
        if values is not None and (not isinstance(values, dict) or not values):
            raise TableValidationError("ExpressionAttributeValues must not be empty")
        self._names: dict[str, str] = dict(names or {})
        self._values: dict[str, Value] = {}
        for key, value in (values or {}).items():
            self._values[key] = check_value(value)
        self._used_names: set[str] = set()
        self._used_values: set[str] = set()
        self._tokens: list[tuple[str, str, int]] = []
        self._at = 0
        self._kind = ""
        self._text = ""

    # -- the request's expressions ------------------------------------------------

    def condition(self, text: str, kind: str = "ConditionExpression") -> Condition:
        self._start(text, kind)
        tree = self._or()
        self._end()
        return tree

    def update(self, text: str) -> list[Action]:
        self._start(text, "UpdateExpression")
        actions: list[Action] = []
        seen: set[str] = set()
        while self._peek() is not None:
            clause = self._word().upper()
            if clause not in _UPDATE_CLAUSES:
                self._syntax(self._tokens[self._at - 1][1])
            if clause in seen:
                raise TableValidationError(
                    f'Invalid UpdateExpression: The "{clause}" section can only be used once '
                    "in an update expression;"
                )
            seen.add(clause)
            while True:
                actions.append(self._action(clause))
                if self._peek() == ",":
                    self._at += 1
                    continue
                break
        if not actions:
            self._syntax("<EOF>")
        self._check_overlaps(actions)
        return actions

    def projection(self, text: str) -> list[Path]:
        self._start(text, "ProjectionExpression")
        paths = [self._path()]
        while self._peek() == ",":
            self._at += 1
            paths.append(self._path())
        self._end()
        return paths

    def unused(self) -> tuple[list[str], list[str]]:
        return (
            sorted(set(self._names) - self._used_names),
            sorted(set(self._values) - self._used_values),
        )

    def check_all_used(self) -> None:
        names, values = self.unused()
        if names:
            raise TableValidationError(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: "
                f"{{{', '.join(names)}}}"
            )
        if values:
            raise TableValidationError(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: "
                f"{{{', '.join(values)}}}"
            )

    # -- tokens ---------------------------------------------------------------------

    def _start(self, text: str, kind: str) -> None:
        if not isinstance(text, str):
            raise TableValidationError(f"Invalid {kind}: must be a string")
        if not text.strip():
            raise TableValidationError(f"Invalid {kind}: The expression can not be empty;")
        self._kind, self._text, self._at = kind, text, 0
        self._tokens = []
        position = 0
        stripped = text.rstrip()
        while position < len(stripped):
            match = _TOKEN.match(stripped, position)
            if match is None or match.end() == position:
                bad = stripped[position:].strip()[:1]
                raise TableValidationError(
                    f'Invalid {kind}: Syntax error; token: "{bad}", near: '
                    f'"{stripped[max(0, position - 5) : position + 5].strip()}"'
                )
            group = match.lastgroup or ""
            self._tokens.append((group, match.group(group), match.start(group)))
            position = match.end()

    def _peek(self) -> str | None:
        return self._tokens[self._at][1] if self._at < len(self._tokens) else None

    def _next(self) -> tuple[str, str, int]:
        if self._at >= len(self._tokens):
            self._syntax("<EOF>")
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _expect(self, text: str) -> None:
        _, token, _ = self._next()
        if token.upper() != text:
            self._at -= 1
            self._syntax(token)

    def _word(self) -> str:
        kind, token, _ = self._next()
        if kind != "word":
            self._at -= 1
            self._syntax(token)
        return token

    def _end(self) -> None:
        if self._at < len(self._tokens):
            self._syntax(self._tokens[self._at][1])

    def _syntax(self, token: str) -> NoReturn:
        if token == "<EOF>":
            near = self._text.strip()[-10:]
        else:
            start = self._tokens[min(self._at, len(self._tokens) - 1)][2]
            near = self._text[max(0, start - 6) : start + len(token) + 6].strip()
        raise TableValidationError(
            f'Invalid {self._kind}: Syntax error; token: "{token}", near: "{near}"'
        )

    # -- conditions -------------------------------------------------------------------

    def _or(self) -> Condition:
        left = self._and()
        while (self._peek() or "").upper() == "OR":
            self._at += 1
            left = Logic("OR", left, self._and())
        return left

    def _and(self) -> Condition:
        left = self._not()
        while (self._peek() or "").upper() == "AND":
            self._at += 1
            left = Logic("AND", left, self._not())
        return left

    def _not(self) -> Condition:
        if (self._peek() or "").upper() == "NOT":
            self._at += 1
            return Not(self._not())
        return self._primary()

    def _primary(self) -> Condition:
        if self._peek() == "(":
            self._at += 1
            inner = self._or()
            self._expect(")")
            return inner
        kind, token, _ = self._tokens[self._at] if self._at < len(self._tokens) else ("", "", 0)
        if kind == "word" and token in _CONDITION_FUNCTIONS and self._lookahead("("):
            return self._function(token)
        subject = self._operand()
        following = (self._peek() or "").upper()
        if following in _COMPARATORS:
            self._at += 1
            return Compare(following, subject, self._operand())
        if following == "BETWEEN":
            self._at += 1
            low = self._operand()
            self._expect("AND")
            return Between(subject, low, self._operand())
        if following == "IN":
            self._at += 1
            self._expect("(")
            options = [self._operand()]
            while self._peek() == ",":
                self._at += 1
                options.append(self._operand())
            self._expect(")")
            return In(subject, tuple(options))
        self._syntax(self._peek() or "<EOF>")

    def _lookahead(self, text: str) -> bool:
        at = self._at + 1
        return at < len(self._tokens) and self._tokens[at][1] == text

    def _function(self, name: str) -> Function:
        self._at += 2  # the name and "("
        args = [self._operand()]
        while self._peek() == ",":
            self._at += 1
            args.append(self._operand())
        self._expect(")")
        if len(args) != _CONDITION_FUNCTIONS[name]:
            raise TableValidationError(
                f"Invalid {self._kind}: Incorrect number of operands for operator or "
                f"function; operator or function: {name}, number of operands: {len(args)}"
            )
        if not isinstance(args[0], Path):
            raise TableValidationError(
                f"Invalid {self._kind}: Operator or function requires a document path; "
                f"operator or function: {name}"
            )
        return Function(name, tuple(args))

    def _operand(self) -> Operand:
        kind, token, _ = self._tokens[self._at] if self._at < len(self._tokens) else ("", "", 0)
        if kind == "value":
            self._at += 1
            return Const(self._value(token))
        if kind == "word" and token == "size" and self._lookahead("("):
            self._at += 2
            path = self._path()
            self._expect(")")
            return Size(path)
        return self._path()

    def _value(self, token: str) -> Value:
        if token not in self._values:
            raise TableValidationError(
                f"Invalid {self._kind}: An expression attribute value used in expression is "
                f"not defined; attribute value: {token}"
            )
        self._used_values.add(token)
        return self._values[token]

    def _path(self) -> Path:
        elements: list[PathElement] = [self._name()]
        while self._peek() in (".", "["):
            if self._next()[1] == ".":
                elements.append(self._name())
            else:
                kind, token, _ = self._next()
                if kind != "number":
                    self._at -= 1
                    self._syntax(token)
                elements.append(int(token))
                self._expect("]")
        return Path(tuple(elements))

    def _name(self) -> str:
        kind, token, _ = self._next()
        if kind == "name":
            if token not in self._names:
                raise TableValidationError(
                    f"Invalid {self._kind}: An expression attribute name used in the document "
                    f"path is not defined; attribute name: {token}"
                )
            self._used_names.add(token)
            return self._names[token]
        if kind != "word":
            self._at -= 1
            self._syntax(token)
        return token

    # -- updates ------------------------------------------------------------------------

    def _action(self, clause: str) -> Action:
        path = self._path()
        if clause == "REMOVE":
            return Action("REMOVE", path)
        if clause == "SET":
            self._expect("=")
            return Action("SET", path, self._set_value())
        kind, token, _ = self._next()
        if kind != "value":
            self._at -= 1
            self._syntax(token)
        return Action(clause, path, Const(self._value(token)))

    def _set_value(self) -> SetValue:
        left = self._set_operand()
        following = self._peek()
        if following in ("+", "-"):
            self._at += 1
            return Arithmetic(following, left, self._set_operand())
        return left

    def _set_operand(self) -> SetValue:
        kind, token, _ = self._tokens[self._at] if self._at < len(self._tokens) else ("", "", 0)
        if kind == "word" and token in ("if_not_exists", "list_append") and self._lookahead("("):
            self._at += 2
            first = self._set_value() if token == "list_append" else self._path()
            self._expect(",")
            second = self._set_value()
            self._expect(")")
            if token == "list_append":
                return ListAppend(first, second)
            assert isinstance(first, Path)
            return IfNotExists(first, second)
        if kind == "value":
            self._at += 1
            return Const(self._value(token))
        return self._path()

    def _check_overlaps(self, actions: list[Action]) -> None:
        seen: list[tuple[PathElement, ...]] = []
        for action in actions:
            elements = action.path.elements
            for other in seen:
                shorter = min(len(other), len(elements))
                if other[:shorter] == elements[:shorter]:
                    raise TableValidationError(
                        "Invalid UpdateExpression: Two document paths overlap with each other; "
                        "must remove or rewrite one of these paths; path one: "
                        f"[{Path(other).text()}], path two: [{action.path.text()}]"
                    )
            seen.append(elements)

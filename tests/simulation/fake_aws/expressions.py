"""DynamoDB expressions (condition, key condition, filter, update, projection) over items
in DynamoDB's wire format (``{"S": "..."}``, ``{"N": "12"}``, ``{"M": {...}}``...).

The grammar is DynamoDB's: comparisons (= <> < <= > >=), BETWEEN, IN, AND / OR / NOT with
parentheses, the functions attribute_exists, attribute_not_exists, attribute_type,
begins_with, contains and size; update clauses SET (with + / -, if_not_exists and
list_append), REMOVE, ADD and DELETE on nested paths (``a.b[2].c``). Placeholders
(``#name``, ``:value``) are resolved while parsing, and the names and values a request
gives but never uses are reported, as DynamoDB does.

Semantics follow moto's (the contract suite runs the same cases against both): a
comparison with a missing attribute is false, except ``<>``, which is true.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

AV = dict[str, Any]          # one attribute value in wire format
Item = dict[str, AV]


class ExpressionError(Exception):
    """A request DynamoDB refuses with ValidationException."""


# ---------------------------------------------------------------------------- values


def number(av: AV) -> Decimal:
    return Decimal(av["N"])


def normalize_number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    text = format(value.normalize(), "f")
    return text


def av_type(av: AV) -> str:
    return next(iter(av))


def _b(av_value: Any) -> bytes:
    return av_value if isinstance(av_value, bytes | bytearray) else base64.b64decode(av_value)


def av_equal(a: AV | None, b: AV | None) -> bool:
    if a is None or b is None:
        return a is b
    ta, tb = av_type(a), av_type(b)
    if ta != tb:
        return False
    va, vb = a[ta], b[tb]
    if ta == "N":
        return Decimal(va) == Decimal(vb)
    if ta == "B":
        return _b(va) == _b(vb)
    if ta == "NS":
        return {Decimal(x) for x in va} == {Decimal(x) for x in vb}
    if ta == "BS":
        return {_b(x) for x in va} == {_b(x) for x in vb}
    if ta == "SS":
        return set(va) == set(vb)
    if ta == "L":
        return len(va) == len(vb) and all(av_equal(x, y) for x, y in zip(va, vb, strict=True))
    if ta == "M":
        return va.keys() == vb.keys() and all(av_equal(va[k], vb[k]) for k in va)
    return bool(va == vb)


def sort_key(av: AV) -> Any:
    """A Python value that orders like DynamoDB orders key attributes (N, S, B)."""
    kind = av_type(av)
    if kind == "N":
        return Decimal(av["N"])
    if kind == "B":
        return _b(av["B"])
    return av[kind].encode("utf-8") if kind == "S" else av[kind]


def _ordered(a: AV | None, b: AV | None) -> tuple[Any, Any] | None:
    if a is None or b is None:
        return None
    ta, tb = av_type(a), av_type(b)
    if ta != tb or ta not in ("N", "S", "B"):
        return None
    return sort_key(a), sort_key(b)


# ---------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"\s*(?:(?P<op><>|<=|>=|=|<|>|\(|\)|,|\.|\[|\]|\+|-)"
    r"|(?P<hash>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<num>[0-9]+(?![A-Za-z_]))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}
# DynamoDB's reserved words (its documentation's list): a bare attribute name may not be one.
RESERVED_WORDS = frozenset(
    (Path(__file__).with_name("reserved_words.txt")).read_text().split()
)


@dataclass(frozen=True)
class Token:
    kind: str   # op | hash | value | num | name | kw | end
    text: str


@lru_cache(maxsize=4096)
def tokenize(expression: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(f"Invalid expression: Syntax error; token: {text[position:position + 10]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value.upper() in _KEYWORDS:
            tokens.append(Token("kw", value.upper()))
        else:
            tokens.append(Token(kind, value))
    tokens.append(Token("end", ""))
    return tuple(tokens)


# ---------------------------------------------------------------------------- parsing


@dataclass
class Placeholders:
    """ExpressionAttributeNames / Values of one request, and which ones were used."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, AV] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    def name(self, placeholder: str) -> str:
        if placeholder not in self.names:
            raise ExpressionError(
                f"An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
            )
        self.used_names.add(placeholder)
        return self.names[placeholder]

    def value(self, placeholder: str) -> AV:
        if placeholder not in self.values:
            raise ExpressionError(
                f"An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            )
        self.used_values.add(placeholder)
        return self.values[placeholder]

    def check_all_used(self) -> None:
        unused_names = set(self.names) - self.used_names
        if unused_names:
            keys = ", ".join(sorted(unused_names))
            raise ExpressionError(f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{keys}}}")
        unused_values = set(self.values) - self.used_values
        if unused_values:
            keys = ", ".join(sorted(unused_values))
            raise ExpressionError(
                f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{keys}}}"
            )


_CONDITION_FUNCTIONS = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
_COMPARATORS = {"=", "<>", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, expression: str, placeholders: Placeholders):
        self.tokens = tokenize(expression)
        self.i = 0
        self.ph = placeholders

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            raise ExpressionError(f"Invalid expression: Syntax error; token: {token.text!r}, expected {text or kind}")
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def done(self) -> None:
        if not self.at("end"):
            raise ExpressionError(f"Invalid expression: Syntax error; token: {self.tok.text!r}")

    # -- paths and operands
    def path(self) -> tuple:
        elements: list[str | int] = [self._path_name()]
        while True:
            if self.at("op", "."):
                self.take()
                elements.append(self._path_name())
            elif self.at("op", "["):
                self.take()
                elements.append(int(self.expect("num").text))
                self.expect("op", "]")
            else:
                return ("path", tuple(elements))

    def _path_name(self) -> str:
        token = self.take()
        if token.kind == "hash":
            return self.ph.name(token.text)
        if token.kind == "name":
            if token.text.upper() in RESERVED_WORDS:
                raise ExpressionError(
                    f"Invalid expression: Attribute name is a reserved keyword; reserved keyword: {token.text}"
                )
            return token.text
        raise ExpressionError(f"Invalid expression: Syntax error; token: {token.text!r}")

    def operand(self) -> tuple:
        if self.at("value"):
            return ("value", self.ph.value(self.take().text))
        if self.at("name") and self.tokens[self.i + 1].kind == "op" and self.tokens[self.i + 1].text == "(":
            name = self.take().text
            if name != "size":
                raise ExpressionError(f"Invalid function name; function: {name}")
            self.expect("op", "(")
            target = self.path()
            self.expect("op", ")")
            return ("size", target)
        return self.path()

    # -- conditions
    def condition(self) -> tuple:
        left = self._and()
        while self.at("kw", "OR"):
            self.take()
            left = ("or", left, self._and())
        return left

    def _and(self) -> tuple:
        left = self._not()
        while self.at("kw", "AND"):
            self.take()
            left = ("and", left, self._not())
        return left

    def _not(self) -> tuple:
        if self.at("kw", "NOT"):
            self.take()
            return ("not", self._not())
        return self._primary()

    def _primary(self) -> tuple:
        if self.at("op", "("):
            self.take()
            inner = self.condition()
            self.expect("op", ")")
            return inner
        if (self.at("name") and self.tok.text in _CONDITION_FUNCTIONS
                and self.tokens[self.i + 1].kind == "op" and self.tokens[self.i + 1].text == "("):
            name = self.take().text
            self.expect("op", "(")
            args = [self.operand()]
            while self.at("op", ","):
                self.take()
                args.append(self.operand())
            self.expect("op", ")")
            expected = 1 if name in ("attribute_exists", "attribute_not_exists") else 2
            if len(args) != expected or args[0][0] != "path":
                raise ExpressionError(f"Invalid number of arguments or operand type for function: {name}")
            return ("fn", name, tuple(args))
        left = self.operand()
        if self.at("op") and self.tok.text in _COMPARATORS:
            op = self.take().text
            return ("cmp", op, left, self.operand())
        if self.at("kw", "BETWEEN"):
            self.take()
            low = self.operand()
            self.expect("kw", "AND")
            return ("between", left, low, self.operand())
        if self.at("kw", "IN"):
            self.take()
            self.expect("op", "(")
            options = [self.operand()]
            while self.at("op", ","):
                self.take()
                options.append(self.operand())
            self.expect("op", ")")
            return ("in", left, tuple(options))
        raise ExpressionError(f"Invalid expression: Syntax error; token: {self.tok.text!r}")

    # -- updates
    def update(self) -> dict[str, list[tuple]]:
        clauses: dict[str, list[tuple]] = {}
        while not self.at("end"):
            keyword = self.take()
            if keyword.kind != "kw" or keyword.text not in ("SET", "REMOVE", "ADD", "DELETE"):
                raise ExpressionError(f"Invalid UpdateExpression: Syntax error; token: {keyword.text!r}")
            if keyword.text in clauses:
                raise ExpressionError(
                    f'Invalid UpdateExpression: The "{keyword.text}" section can only be used once in an update '
                    "expression;"
                )
            actions: list[tuple] = []
            while True:
                target = self.path()
                if keyword.text == "SET":
                    self.expect("op", "=")
                    actions.append((target, self._set_value()))
                elif keyword.text == "REMOVE":
                    actions.append((target, None))
                else:
                    actions.append((target, ("value", self.ph.value(self.expect("value").text))))
                if not self.at("op", ","):
                    break
                self.take()
            clauses[keyword.text] = actions
        if not clauses:
            raise ExpressionError("Invalid UpdateExpression: The expression can not be empty;")
        return clauses

    def _set_value(self) -> tuple:
        left = self._set_operand()
        if self.at("op", "+") or self.at("op", "-"):
            op = "plus" if self.take().text == "+" else "minus"
            return (op, left, self._set_operand())
        return left

    def _set_operand(self) -> tuple:
        if self.at("name") and self.tokens[self.i + 1].kind == "op" and self.tokens[self.i + 1].text == "(":
            name = self.take().text
            self.expect("op", "(")
            if name == "if_not_exists":
                target = self.path()
                self.expect("op", ",")
                fallback = self._set_operand()
                self.expect("op", ")")
                return ("if_not_exists", target, fallback)
            if name == "list_append":
                first = self._set_operand()
                self.expect("op", ",")
                second = self._set_operand()
                self.expect("op", ")")
                return ("list_append", first, second)
            raise ExpressionError(f"Invalid function name; function: {name}")
        if self.at("value"):
            return ("value", self.ph.value(self.take().text))
        return self.path()

    def projection(self) -> list[tuple]:
        paths = [self.path()]
        while self.at("op", ","):
            self.take()
            paths.append(self.path())
        return paths


def parse_condition(expression: str, placeholders: Placeholders) -> tuple:
    parser = _Parser(expression, placeholders)
    tree = parser.condition()
    parser.done()
    return tree


def parse_update(expression: str, placeholders: Placeholders) -> dict[str, list[tuple]]:
    parser = _Parser(expression, placeholders)
    clauses = parser.update()
    parser.done()
    return clauses


def parse_projection(expression: str, placeholders: Placeholders) -> list[tuple]:
    parser = _Parser(expression, placeholders)
    paths = parser.projection()
    parser.done()
    return paths


# ---------------------------------------------------------------------------- evaluation


def get_path(item: Item, elements: tuple) -> AV | None:
    current: AV | None = {"M": item}
    for element in elements:
        if current is None:
            return None
        if isinstance(element, int):
            if "L" not in current or element >= len(current["L"]):
                return None
            current = current["L"][element]
        else:
            if "M" not in current:
                return None
            current = current["M"].get(element)
    return current


def operand_value(node: tuple, item: Item) -> AV | None:
    kind = node[0]
    if kind == "value":
        return node[1]
    if kind == "path":
        return get_path(item, node[1])
    if kind == "size":
        target = get_path(item, node[1][1])
        if target is None:
            return None
        t = av_type(target)
        if t == "S":
            size = len(target["S"])
        elif t == "B":
            size = len(_b(target["B"]))
        elif t in ("L", "M", "SS", "NS", "BS"):
            size = len(target[t])
        else:
            raise ExpressionError(f"Invalid argument to size function; type: {t}")
        return {"N": str(size)}
    if kind == "if_not_exists":
        existing = get_path(item, node[1][1])
        return existing if existing is not None else operand_value(node[2], item)
    if kind == "list_append":
        first, second = operand_value(node[1], item), operand_value(node[2], item)
        if first is None or second is None or "L" not in first or "L" not in second:
            raise ExpressionError("An operand in the update expression has an incorrect data type")
        return {"L": [*first["L"], *second["L"]]}
    if kind in ("plus", "minus"):
        left, right = operand_value(node[1], item), operand_value(node[2], item)
        if left is None or right is None:
            raise ExpressionError(
                "The provided expression refers to an attribute that does not exist in the item"
            )
        if "N" not in left or "N" not in right:
            raise ExpressionError("An operand in the update expression has an incorrect data type")
        result = number(left) + number(right) if kind == "plus" else number(left) - number(right)
        return {"N": normalize_number(result)}
    raise ExpressionError(f"unsupported operand {kind}")


def evaluate(tree: tuple | None, item: Item | None) -> bool:
    """A condition on an item (None or {} for an item that does not exist)."""
    if tree is None:
        return True
    item = item or {}
    kind = tree[0]
    if kind == "and":
        return evaluate(tree[1], item) and evaluate(tree[2], item)
    if kind == "or":
        return evaluate(tree[1], item) or evaluate(tree[2], item)
    if kind == "not":
        return not evaluate(tree[1], item)
    if kind == "cmp":
        op, left, right = tree[1], operand_value(tree[2], item), operand_value(tree[3], item)
        if op == "=":
            return left is not None and right is not None and av_equal(left, right)
        if op == "<>":
            return not (left is not None and right is not None and av_equal(left, right))
        pair = _ordered(left, right)
        if pair is None:
            return False
        a, b = pair
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if kind == "between":
        value, low, high = (operand_value(node, item) for node in tree[1:])
        first, second = _ordered(value, low), _ordered(value, high)
        if first is None or second is None:
            return False
        return first[1] <= first[0] <= second[1]
    if kind == "in":
        value = operand_value(tree[1], item)
        return value is not None and any(av_equal(value, operand_value(option, item)) for option in tree[2])
    if kind == "fn":
        return _function(tree[1], tree[2], item)
    raise ExpressionError(f"unsupported condition {kind}")


def _function(name: str, args: tuple, item: Item) -> bool:
    target = get_path(item, args[0][1])
    if name == "attribute_exists":
        return target is not None
    if name == "attribute_not_exists":
        return target is None
    operand = operand_value(args[1], item)
    if target is None or operand is None:
        return False
    if name == "attribute_type":
        return av_type(target) == operand.get("S")
    if name == "begins_with":
        t = av_type(target)
        if t == "S" and "S" in operand:
            return bool(target["S"].startswith(operand["S"]))
        if t == "B" and "B" in operand:
            return _b(target["B"]).startswith(_b(operand["B"]))
        return False
    if name == "contains":
        t = av_type(target)
        if t == "S" and "S" in operand:
            return operand["S"] in target["S"]
        if t in ("SS", "NS", "BS"):
            element = {"SS": "S", "NS": "N", "BS": "B"}[t]
            return element in operand and any(av_equal({element: x}, operand) for x in target[t])
        if t == "L":
            return any(av_equal(x, operand) for x in target["L"])
        return False
    raise ExpressionError(f"Invalid function name; function: {name}")


# ---------------------------------------------------------------------------- updates


def _overlap(a: tuple, b: tuple) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def apply_update(item: Item, clauses: dict[str, list[tuple]], key_names: tuple[str, ...]) -> tuple[Item, set[str]]:
    """The item after the update (a new dict) and the top-level attribute names it touched.

    Every right-hand side is evaluated against the item as it was before the update."""
    paths = [target[1] for actions in clauses.values() for target, _ in actions]
    for i, first in enumerate(paths):
        for second in paths[i + 1:]:
            if _overlap(first, second):
                raise ExpressionError(
                    f"Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite "
                    f"one of these paths; path one: [{', '.join(map(str, first))}], "
                    f"path two: [{', '.join(map(str, second))}]"
                )
        if first[0] in key_names:
            raise ExpressionError(f"Cannot update attribute {first[0]}. This attribute is part of the key")
    planned: list[tuple[str, tuple, AV | None]] = []
    for target, value in clauses.get("SET", []):
        planned.append(("SET", target[1], operand_value(value, item)))
    for target, _ in clauses.get("REMOVE", []):
        planned.append(("REMOVE", target[1], None))
    for target, value in clauses.get("ADD", []):
        planned.append(("ADD", target[1], _add(get_path(item, target[1]), value[1])))
    for target, value in clauses.get("DELETE", []):
        planned.append(("DELETE", target[1], _delete(get_path(item, target[1]), value[1])))
    new = _deep_copy(item)
    for action, elements, value in planned:
        if action == "REMOVE" or value is None:
            _remove(new, elements)
        else:
            _set(new, elements, value)
    return new, {elements[0] for _, elements, _ in planned}


def _add(current: AV | None, value: AV) -> AV:
    t = av_type(value)
    if t == "N":
        if current is None:
            return value
        if "N" not in current:
            raise ExpressionError("An operand in the update expression has an incorrect data type")
        return {"N": normalize_number(number(current) + number(value))}
    if t in ("SS", "NS", "BS"):
        if current is None:
            return value
        if av_type(current) != t:
            raise ExpressionError("An operand in the update expression has an incorrect data type")
        merged = list(current[t])
        for element in value[t]:
            if not any(av_equal({t: [element]}, {t: [x]}) for x in merged):
                merged.append(element)
        return {t: merged}
    raise ExpressionError("Incorrect operand type for operator or function; operator: ADD")


def _delete(current: AV | None, value: AV) -> AV | None:
    t = av_type(value)
    if t not in ("SS", "NS", "BS"):
        raise ExpressionError("Incorrect operand type for operator or function; operator: DELETE")
    if current is None:
        return None
    if av_type(current) != t:
        raise ExpressionError("An operand in the update expression has an incorrect data type")
    kept = [x for x in current[t] if not any(av_equal({t: [x]}, {t: [y]}) for y in value[t])]
    return {t: kept} if kept else None


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _container(item: Item, elements: tuple) -> AV | None:
    """The map or list holding the last element of the path (None if the path is invalid)."""
    parent = get_path(item, elements[:-1]) if len(elements) > 1 else {"M": item}
    return parent


def _set(item: Item, elements: tuple, value: AV) -> None:
    parent = _container(item, elements)
    last = elements[-1]
    if isinstance(last, int):
        if parent is None or "L" not in parent:
            raise ExpressionError("The document path provided in the update expression is invalid for update")
        if last >= len(parent["L"]):
            parent["L"].append(value)
        else:
            parent["L"][last] = value
        return
    if parent is None or "M" not in parent:
        raise ExpressionError("The document path provided in the update expression is invalid for update")
    parent["M"][last] = value


def _remove(item: Item, elements: tuple) -> None:
    parent = _container(item, elements)
    last = elements[-1]
    if parent is None:
        return
    if isinstance(last, int):
        if "L" in parent and last < len(parent["L"]):
            del parent["L"][last]
        return
    if "M" in parent:
        parent["M"].pop(last, None)


def project(item: Item, paths: list[tuple]) -> Item:
    """The attributes a ProjectionExpression asks for. Nested map paths keep their enclosing
    maps with only the projected leaves; a path through a list index keeps the whole
    top-level attribute (the code under test projects nothing nested)."""
    result: Item = {}
    for node in paths:
        elements = node[1]
        value = get_path(item, elements)
        if value is None:
            continue
        if len(elements) == 1 or any(isinstance(e, int) for e in elements):
            result[elements[0]] = _deep_copy(item[elements[0]])
            continue
        target = result
        for element in elements[:-1]:
            target = target.setdefault(element, {"M": {}})["M"]
        target[elements[-1]] = _deep_copy(value)
    return result

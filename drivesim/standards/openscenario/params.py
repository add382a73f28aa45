"""OpenSCENARIO parameters: declarations, `$name` references, `${...}` expressions, typed attributes.

A `Params` is one scope (the file, a story, a maneuver, a catalog entry) chained to its parent; an
attribute whose whole value is `$name` takes the nearest declaration's value, `${...}` is an expression
(OpenSCENARIO 1.1: numbers, `$name`, + - * / %, unary -, parentheses, comparisons, not / and / or,
true / false, and the functions round floor ceil sqrt pow sin cos tan asin acos atan abs sign min max;
as esmini, a bare word is a string and + joins strings: `${Brake_ + $Gap}` is Brake_0.7).

    params = Params.declare(root.child("ParameterDeclarations"))
    params.number(node, "value")      # a located error when missing or not a number

Every number is finite: an expression whose value overflows (`${pow(10, 400)}`) or that nests more than
MAX_EXPRESSION_DEPTH parentheses, unary minus or `not` deep is a located error, never a Python exception.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Sequence

from drivesim.standards.openscenario.xmltree import Element, located

_REQUIRED = object()
MAX_NUMBER = 1e12  # no attribute's number is larger (in metres, seconds, m/s, counts): a mistake, not a scene
MAX_EXPRESSION_DEPTH = 100  # parentheses, function calls, unary - and `not` inside one another in one ${...}
_SHOWN_CHARS = 80  # an expression quoted in an error message is cut to this many characters
_NUMERIC_TYPES = ("double", "integer", "int", "unsignedInt", "unsignedShort")


class Params:
    """One scope of parameter values (text, as OpenSCENARIO stores them) with its declared types."""

    def __init__(self, parent: "Params | None" = None):
        self.parent = parent
        self.values: dict[str, str] = {}
        self.types: dict[str, str] = {}

    def scope(self, declarations: Element | None, assignments: dict[str, str] | None = None) -> "Params":
        """A child scope with `declarations` (each value read in the new scope, so later ones may use
        earlier ones); `assignments` (a catalog reference's ParameterAssignments) override defaults."""
        inner = Params(self)
        for decl in declarations.children if declarations is not None else ():
            if decl.tag != "ParameterDeclaration":
                raise located(decl, "expected <ParameterDeclaration>")
            name = decl.attrib.get("name", "")
            if not name:
                raise located(decl, "a parameter needs a name", "add name=\"...\"")
            kind = decl.attrib.get("parameterType", "string")
            value = (assignments or {}).get(name)
            if value is None:
                value = inner.text(decl, "value")
            if kind in _NUMERIC_TYPES:
                _check_number(decl, name, kind, value)
            inner.values[name], inner.types[name] = value, kind
            for group in decl.all("ConstraintGroup"):
                _check_constraints(inner, decl, group, value, kind)
        return inner

    def lookup(self, name: str, node: Element, attr: str) -> str:
        scope: Params | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise located(node, f"{attr}: parameter ${name} is not declared",
                      "declare it in a <ParameterDeclarations> of the file, story or catalog entry")

    def _typed(self, name: str, node: Element, attr: str) -> Any:
        text = self.lookup(name, node, attr)
        kind = self._type_of(name)
        if kind in _NUMERIC_TYPES:
            try:
                value = float(text)
            except ValueError:
                raise located(node, f"{attr}: parameter ${name} ({kind}) has the value {text!r}") from None
            if not math.isfinite(value):
                raise located(node, f"{attr}: parameter ${name} ({kind}) has the value {text!r}, not a finite "
                              "number", "give the parameter a finite value")
            return value
        if kind == "boolean":
            return text == "true"
        return text

    def _type_of(self, name: str) -> str:
        scope: Params | None = self
        while scope is not None:
            if name in scope.types:
                return scope.types[name]
            scope = scope.parent
        return "string"

    # --- attributes ---------------------------------------------------------------------

    def text(self, node: Element, attr: str, default: Any = _REQUIRED) -> Any:
        """The attribute's value with parameters resolved, as text; `default` when it is absent."""
        raw = node.attrib.get(attr)
        if raw is None:
            if default is _REQUIRED:
                raise located(node, f"missing attribute {attr}", f"add {attr}=\"...\" to <{node.tag}>")
            return default
        raw = raw.strip()
        if raw.startswith("${"):
            if not raw.endswith("}"):
                raise located(node, f"{attr}: expression {raw!r} has no closing '}}'")
            value = _Expression(raw[2:-1], lambda n: self._typed(n, node, attr), node, attr).evaluate()
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            return repr(float(value)) if not float(value).is_integer() else str(int(value))
        if raw.startswith("$") and len(raw) > 1:
            return self.lookup(raw[1:], node, attr)
        return raw

    def number(self, node: Element, attr: str, default: Any = _REQUIRED, minimum: float | None = None) -> float:
        """The attribute as a finite number of magnitude <= MAX_NUMBER (and >= `minimum`, where the standard
        bounds it); `default` when it is absent."""
        text = self.text(node, attr, None)
        if text is None:
            if default is _REQUIRED:
                raise located(node, f"missing attribute {attr}", f"add {attr}=\"...\" to <{node.tag}>")
            return default
        try:
            value = float(text)
        except ValueError:
            raise located(node, f"{attr}: expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise located(node, f"{attr}: expected a finite number, got {text!r}")
        if abs(value) > MAX_NUMBER:
            raise located(node, f"{attr}: {value:g} is beyond +-{MAX_NUMBER:g}",
                          "write metres, seconds and m/s: no scenario needs a number this large")
        if minimum is not None and value < minimum:
            raise located(node, f"{attr}: must be >= {minimum:g}, got {value:g}",
                          f"OpenSCENARIO requires {attr} >= {minimum:g} in <{node.tag}>")
        return value

    def integer(self, node: Element, attr: str, default: Any = _REQUIRED, minimum: int | None = None) -> int:
        if attr not in node.attrib and default is not _REQUIRED:
            return default
        value = self.number(node, attr, minimum=minimum)
        if not value.is_integer():
            raise located(node, f"{attr}: expected a whole number, got {value:g}")
        return int(value)

    def boolean(self, node: Element, attr: str, default: Any = _REQUIRED) -> bool:
        text = self.text(node, attr, default)
        if isinstance(text, bool):
            return text
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise located(node, f"{attr}: expected true or false, got {text!r}")

    def choice(self, node: Element, attr: str, choices: Sequence[str], default: Any = _REQUIRED) -> str:
        text = self.text(node, attr, default)
        if text not in choices:
            raise located(node, f"{attr}: expected one of {', '.join(choices)}, got {text!r}")
        return text


def _check_number(decl: Element, name: str, kind: str, value: str) -> None:
    """A numeric parameter's value (declared or assigned) is a finite number."""
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        raise located(decl, f"parameter {name} ({kind}) has the value {value!r}, not a finite number",
                      "give a numeric parameter a finite number")


def _check_constraints(params: Params, decl: Element, group: Element, value: str, kind: str) -> None:
    """ConstraintGroup (OpenSCENARIO 1.1): every ValueConstraint of the group must hold."""
    for c in group.all("ValueConstraint"):
        rule = params.choice(c, "rule", tuple(RULES))
        bound = params.text(c, "value")
        if kind in _NUMERIC_TYPES:
            try:
                ok = RULES[rule](float(value), float(bound))
            except ValueError:
                raise located(c, f"parameter {decl.attrib.get('name')} ({kind}): cannot compare {value!r} "
                              f"with {bound!r}", "give numbers to a numeric parameter and its constraint") from None
        else:
            ok = RULES[rule](value, bound) if rule in ("equalTo", "notEqualTo") else False
        if not ok:
            raise located(decl, f"parameter {decl.attrib.get('name')} = {value} breaks its constraint "
                          f"{rule} {bound}", "change the value")


# esmini compares with a tolerance of 1e-6 (its SMALL_NUMBER); so do we, so that triggers fire on the same frame.
TOLERANCE = 1e-6
RULES: dict[str, Callable[[Any, Any], bool]] = {
    "greaterThan": lambda a, b: a > b + TOLERANCE if isinstance(a, float) else a > b,
    "greaterOrEqual": lambda a, b: a >= b - TOLERANCE if isinstance(a, float) else a >= b,
    "lessThan": lambda a, b: a < b - TOLERANCE if isinstance(a, float) else a < b,
    "lessOrEqual": lambda a, b: a <= b + TOLERANCE if isinstance(a, float) else a <= b,
    "equalTo": lambda a, b: abs(a - b) < TOLERANCE if isinstance(a, float) else a == b,
    "notEqualTo": lambda a, b: abs(a - b) >= TOLERANCE if isinstance(a, float) else a != b,
}


# --- expressions ---------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(\$[A-Za-z_][\w]*)|"
                    r"([A-Za-z_]\w*)|(==|!=|<=|>=|[-+*/%(),<>]))")
_FUNCTIONS: dict[str, tuple[int, Callable[..., float]]] = {
    "round": (1, lambda a: float(math.floor(a + 0.5))), "floor": (1, math.floor), "ceil": (1, math.ceil),
    "sqrt": (1, math.sqrt), "pow": (2, math.pow), "sin": (1, math.sin), "cos": (1, math.cos),
    "tan": (1, math.tan), "asin": (1, math.asin), "acos": (1, math.acos), "atan": (1, math.atan),
    "abs": (1, abs), "sign": (1, lambda a: float((a > 0) - (a < 0))), "min": (2, min), "max": (2, max),
}


class _Expression:
    """Recursive descent over the tokens of one `${...}` expression; never `eval`."""

    def __init__(self, text: str, lookup: Callable[[str], Any], node: Element, attr: str):
        self.text, self.lookup, self.node, self.attr = text, lookup, node, attr
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise self._error(f"unexpected {text[pos:].strip()[:10]!r}")
            kinds = ("num", "param", "word", "op")
            kind = next(k for k, g in zip(kinds, m.groups()) if g is not None)
            self.tokens.append((kind, m.group(m.lastindex)))
            pos = m.end()
        self.i = 0
        self.depth = 0

    def _error(self, what: str, hint: str = "") -> Exception:
        shown = self.text if len(self.text) <= _SHOWN_CHARS else self.text[:_SHOWN_CHARS] + "..."
        where = f"parameter {self.node.attrib.get('name')}: " if self.node.tag == "ParameterDeclaration" else ""
        return located(self.node, f"{where}{self.attr}: cannot evaluate ${{{shown}}}: {what}",
                       hint or "write numbers, $parameters, + - * / %, parentheses and functions like sqrt(...)")

    def _deeper(self) -> None:
        """One more level of nesting (parentheses, a call, unary - or not): at most MAX_EXPRESSION_DEPTH."""
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise self._error(f"nested more than {MAX_EXPRESSION_DEPTH} levels deep",
                              "split the expression into parameters that use one another")

    def _finite(self, value: float) -> float:
        if not math.isfinite(value):
            raise self._error(f"the value is {value} (the numbers overflow)",
                              "keep every number and result within +-1.7e308, e.g. smaller exponents")
        return value

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        tok = self._peek()
        if tok is None or (value is not None and tok[1] != value):
            raise self._error(f"expected {value!r}" if value else "unexpected end")
        self.i += 1
        return tok

    def evaluate(self) -> Any:
        try:
            value = self._or()
        except RecursionError:  # MAX_EXPRESSION_DEPTH keeps far below Python's limit; this is the last guard
            raise self._error("nested too deep", "split the expression into parameters that use one another") \
                from None
        if self._peek() is not None:
            raise self._error(f"unexpected {self._peek()[1]!r}")
        if isinstance(value, float):
            self._finite(value)
        return value

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == ("word", "or"):
            self._take()
            rhs = self._and()
            value = self._truth(value) or self._truth(rhs)
        return value

    def _and(self) -> Any:
        value = self._not()
        while self._peek() == ("word", "and"):
            self._take()
            rhs = self._not()
            value = self._truth(value) and self._truth(rhs)
        return value

    def _not(self) -> Any:
        if self._peek() == ("word", "not"):
            self._take()
            self._deeper()
            value = not self._truth(self._not())
            self.depth -= 1
            return value
        return self._compare()

    def _compare(self) -> Any:
        value = self._sum()
        tok = self._peek()
        ops = {"==": "equalTo", "!=": "notEqualTo", "<": "lessThan", "<=": "lessOrEqual", ">": "greaterThan",
               ">=": "greaterOrEqual"}
        if tok is not None and tok[1] in ops:
            self._take()
            return RULES[ops[tok[1]]](self._num(value), self._num(self._sum()))
        return value

    def _sum(self) -> Any:
        value = self._term()
        while self._peek() in (("op", "+"), ("op", "-")):
            op = self._take()[1]
            rhs = self._term()
            if op == "+" and (isinstance(value, str) or isinstance(rhs, str)):  # esmini joins strings
                value = _as_text(value) + _as_text(rhs)
            else:
                value = self._num(value) + self._num(rhs) if op == "+" else self._num(value) - self._num(rhs)
        return value

    def _term(self) -> Any:
        value = self._unary()
        while self._peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            op = self._take()[1]
            a, b = self._num(value), self._num(self._unary())
            if op != "*" and b == 0:
                raise self._error("division by zero")
            value = a * b if op == "*" else a / b if op == "/" else math.fmod(a, b)
        return value

    def _unary(self) -> Any:
        if self._peek() == ("op", "-"):
            self._take()
            self._deeper()
            value = -self._num(self._unary())
            self.depth -= 1
            return value
        return self._primary()

    def _primary(self) -> Any:
        kind, value = self._take()
        if kind == "num":
            return self._finite(float(value))
        if kind == "param":
            return self.lookup(value[1:])
        if value == "(":
            self._deeper()
            inner = self._or()
            self._take(")")
            self.depth -= 1
            return inner
        if kind == "word" and value in ("true", "false"):
            return value == "true"
        if kind == "word" and value in _FUNCTIONS:
            arity, fn = _FUNCTIONS[value]
            self._take("(")
            self._deeper()
            args = [self._num(self._or())]
            while self._peek() == ("op", ","):
                self._take()
                args.append(self._num(self._or()))
            self._take(")")
            self.depth -= 1
            if len(args) != arity:
                raise self._error(f"{value}() takes {arity} argument(s)")
            try:
                return self._finite(float(fn(*args)))
            except ValueError:
                raise self._error(f"{value}() of {args} is undefined") from None
            except OverflowError:
                raise self._error(f"{value}() of {args} overflows (it is too large for a number)",
                                  "keep every result within +-1.7e308, e.g. smaller exponents") from None
        if kind == "word" and value not in ("and", "or", "not"):
            return value  # a bare word is a string (esmini: `${Brake_ + $Gap}` names a condition Brake_0.7)
        raise self._error(f"unexpected {value!r}")

    def _num(self, value: Any) -> float:
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)):
            return self._finite(float(value))
        raise self._error(f"{value!r} is not a number")

    def _truth(self, value: Any) -> bool:
        if isinstance(value, float):
            self._finite(value)
        return bool(value)


def _as_text(value: Any) -> str:
    """A value joined into a string: numbers as esmini writes them (0.7, 3), booleans true / false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.15g}"
    return str(value)

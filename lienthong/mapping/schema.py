"""Target JSON Schemas compiled to closures (the subset of JSON Schema 2020-12 that payload contracts use).

Why not the ``jsonschema`` package: a route checks every payload, and a general validator interprets
the schema dictionary again for every value (several times the cost of the mapping itself, see
``bench/``); it also reports errors in its own shape. This compiler walks the schema once, when the
route is compiled, and returns closures that only check values: a string property with a type, a
length and a pattern is one small function. Paths (``DinhDanhCHS[0].SoDinhDanh``) are only built when
a check fails. Every keyword it does not implement is refused when the route is loaded (never silently
ignored), so a schema cannot promise a check that does not happen.

Supported: ``type``, ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``,
``items``, ``minItems``, ``maxItems``, ``minLength``, ``maxLength``, ``pattern`` (unanchored, as JSON
Schema says: write ``^…$``), ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum`` and
local ``$ref`` (``#/$defs/…``, beside other keywords as in 2020-12). Annotations (``title``,
``description``, ``format``, ``$defs``...) are accepted and ignored. Errors come out as
``(payload path, "schema.<keyword>", message)``, never quoting the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lienthong.errors import ConfigError
from lienthong.mapping.core import ErrorTuple, join_path
from lienthong.mapping.fused import object_validator

#: ``check(value, parent path, key or index or None, errors)``
Check = Callable[[Any, str, Any, list[ErrorTuple]], None]
Validator = Callable[[Any], list[ErrorTuple]]

_ANNOTATIONS = {
    "$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "examples", "default",
    "format", "deprecated", "readOnly", "writeOnly",
}  # fmt: skip
_OBJECT_KEYWORDS = {"properties", "required", "additionalProperties"}
_STRING_KEYWORDS = {"minLength", "maxLength", "pattern", "enum"}
_KEYWORDS = {
    "type", "enum", "const", "items", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "$ref", *_OBJECT_KEYWORDS, *_STRING_KEYWORDS,
}  # fmt: skip
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def compile_schema(document: Any, ref: str) -> Validator:
    """``document`` (parsed JSON) -> ``validate(payload) -> [(path, rule, message), ...]``."""
    check = _Compiler(document, ref).compile(document, "#")

    def validate(payload: Any) -> list[ErrorTuple]:
        errors: list[ErrorTuple] = []
        check(payload, "", None, errors)
        return errors

    return validate


def at(parent: str, key: Any) -> str:
    """The payload path of ``key`` (a property name or a list index) under ``parent``."""
    if key is None:
        return parent
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return join_path(parent, key)


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


class _Compiler:
    def __init__(self, root: Any, ref: str) -> None:
        self.root = root
        self.ref = ref
        self.refs: dict[str, Check] = {}
        self.in_progress: dict[str, list[Check]] = {}

    def error(self, message: str, pointer: str) -> ConfigError:
        return ConfigError(message, path=pointer, file=self.ref)

    def compile(self, node: Any, pointer: str) -> Check:
        if node is True or node == {}:
            return _accept
        if node is False:
            return _refuse
        if not isinstance(node, dict):
            raise self.error("a schema must be an object or a boolean", pointer)
        for keyword in node:
            if keyword not in _KEYWORDS and keyword not in _ANNOTATIONS:
                raise self.error(f"unsupported JSON Schema keyword {keyword!r}", f"{pointer}/{keyword}")
        keywords = _KEYWORDS & node.keys()
        if node.get("type") == "string" and keywords <= {"type", *_STRING_KEYWORDS}:
            return self.string_leaf(node, pointer)
        if node.get("type") == "object" and keywords <= {"type", *_OBJECT_KEYWORDS}:
            return self.object_check(node, pointer, typed=True)
        if node.get("type") == "array" and keywords <= {"type", "items", "minItems", "maxItems"}:
            return self.array_check(node, pointer)
        checks: list[Check] = []
        if "$ref" in node:
            checks.append(self.reference(node["$ref"], f"{pointer}/$ref"))
        if keywords & _OBJECT_KEYWORDS:
            checks.append(self.object_check(node, pointer))
        if "items" in node:
            checks.append(self.items_check(node["items"], f"{pointer}/items"))
        for name in ("minItems", "maxItems", "minLength", "maxLength"):
            if name in node:
                checks.append(self.size_check(name, node[name], f"{pointer}/{name}"))
        for name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if name in node:
                checks.append(self.bound_check(name, node[name], f"{pointer}/{name}"))
        if "pattern" in node:
            checks.append(self.pattern_check(node["pattern"], f"{pointer}/pattern"))
        if "enum" in node:
            checks.append(self.enum_check(node["enum"], f"{pointer}/enum"))
        if "const" in node:
            checks.append(self.const_check(node["const"]))
        type_test = self.type_test(node["type"], f"{pointer}/type") if "type" in node else None
        if type_test is None and len(checks) == 1:
            return checks[0]
        test, expected = type_test or (None, "")

        def check_node(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if test is not None and not test(value):
                errors.append((at(parent, key), "schema.type", f"expected {expected}, got {_kind(value)}"))
                return
            for check in checks:
                check(value, parent, key, errors)

        return check_node

    def string_leaf(self, node: dict[str, Any], pointer: str) -> Check:
        """The common leaf (a string with lengths, a pattern, an enum) as one closure; objects go one
        step further and run the fast test of their string properties inline (``object_check``)."""
        if "enum" in node:
            self.enum_check(node["enum"], f"{pointer}/enum")  # validates the list
        leaf = _StringLeaf(
            self.count(node.get("minLength", 0), f"{pointer}/minLength"),
            self.count(node["maxLength"], f"{pointer}/maxLength") if "maxLength" in node else None,
            self.regex(node["pattern"], f"{pointer}/pattern") if "pattern" in node else None,
            list(node["enum"]) if "enum" in node else None,
        )

        def check_string(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if not leaf.passes(value):
                leaf.report(value, at(parent, key), errors)

        check_string.leaf = leaf  # type: ignore[attr-defined]
        return check_string

    def reference(self, target: Any, pointer: str) -> Check:
        if not isinstance(target, str) or not target.startswith("#/"):
            raise self.error("only local references (#/$defs/...) are supported", pointer)
        if target in self.refs:
            return self.refs[target]
        if target in self.in_progress:  # a recursive schema: resolve through a holder
            holder = self.in_progress[target]
            return lambda value, parent, key, errors: holder[0](value, parent, key, errors)
        node: Any = self.root
        for part in target[2:].split("/"):
            if not isinstance(node, dict) or part not in node:
                raise self.error(f"reference {target} not found", pointer)
            node = node[part]
        self.in_progress[target] = holder = []
        holder.append(self.compile(node, target))
        del self.in_progress[target]
        self.refs[target] = holder[0]
        return holder[0]

    def type_test(self, arg: Any, pointer: str) -> tuple[Callable[[Any], bool], str]:
        names = arg if isinstance(arg, list) else [arg]
        if not names or any(not isinstance(name, str) or name not in _TYPES for name in names):
            raise self.error(f"unknown type {arg!r} (known: {', '.join(_TYPES)})", pointer)
        tests = tuple(_TYPES[name] for name in names)
        if len(tests) == 1:
            return tests[0], names[0]
        return (lambda value: any(test(value) for test in tests)), " or ".join(names)

    def object_check(self, node: dict[str, Any], pointer: str, *, typed: bool = False) -> Check:
        """``properties``/``required``/``additionalProperties`` as one generated function (``fused.py``)
        testing string properties inline; ``typed`` also checks that the value is an object."""
        properties = node.get("properties", {})
        if not isinstance(properties, dict):
            raise self.error("properties must be an object", f"{pointer}/properties")
        props = {key: self.compile(sub, f"{pointer}/properties/{key}") for key, sub in properties.items()}
        leaves: dict[str, _StringLeaf] = {
            key: check.leaf  # type: ignore[attr-defined]
            for key, check in props.items()
            if hasattr(check, "leaf")
        }
        others = {key: check for key, check in props.items() if key not in leaves}
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
            raise self.error("required must be a list of property names", f"{pointer}/required")
        extra = node.get("additionalProperties", True)
        extra_check = (
            None if isinstance(extra, bool) else self.compile(extra, f"{pointer}/additionalProperties")
        )
        return object_validator(
            leaves=leaves,
            others=others,
            order=list(props),
            required=required,
            closed=extra is False,
            extra_check=extra_check,
            typed=typed,
            at=at,
            kind=_kind,
            join=join_path,
        )

    def array_check(self, node: dict[str, Any], pointer: str) -> Check:
        """``type: array`` with ``items`` and item counts, in one closure."""
        item = self.compile(node["items"], f"{pointer}/items") if "items" in node else _accept
        low = self.count(node.get("minItems", 0), f"{pointer}/minItems")
        high = self.count(node["maxItems"], f"{pointer}/maxItems") if "maxItems" in node else None

        def check_array(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if not isinstance(value, list):
                errors.append((at(parent, key), "schema.type", f"expected array, got {_kind(value)}"))
                return
            path = at(parent, key)
            count = len(value)
            if count < low:
                errors.append((path, "schema.minItems", f"at least {low} items, got {count}"))
            if high is not None and count > high:
                errors.append((path, "schema.maxItems", f"at most {high} items, got {count}"))
            if item is not _accept:
                for index, element in enumerate(value):
                    item(element, path, index, errors)

        return check_array

    def items_check(self, arg: Any, pointer: str) -> Check:
        item = self.compile(arg, pointer)

        def items(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if isinstance(value, list):
                path = at(parent, key)
                for index, element in enumerate(value):
                    item(element, path, index, errors)

        return items

    def count(self, arg: Any, pointer: str) -> int:
        if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
            raise self.error("must be a non-negative integer", pointer)
        return arg

    def regex(self, arg: Any, pointer: str) -> re.Pattern[str]:
        try:
            return re.compile(arg)
        except (re.error, TypeError) as exc:
            raise self.error(f"invalid pattern: {exc}", pointer) from None

    def size_check(self, name: str, arg: Any, pointer: str) -> Check:
        limit = self.count(arg, pointer)
        kind, unit = (list, "items") if name.endswith("Items") else (str, "characters")
        at_least = name.startswith("min")
        rule, bound = f"schema.{name}", "at least" if at_least else "at most"

        def size(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if isinstance(value, kind):
                count = len(value)
                if (count < limit) if at_least else (count > limit):
                    errors.append((at(parent, key), rule, f"{bound} {limit} {unit}, got {count}"))

        return size

    def pattern_check(self, arg: Any, pointer: str) -> Check:
        search = self.regex(arg, pointer).search
        message = f"does not match the pattern {arg}"

        def pattern(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if isinstance(value, str) and search(value) is None:
                errors.append((at(parent, key), "schema.pattern", message))

        return pattern

    def enum_check(self, arg: Any, pointer: str) -> Check:
        if not isinstance(arg, list) or not arg:
            raise self.error("enum must be a non-empty list", pointer)
        message = f"not one of the allowed values ({', '.join(map(str, arg))})"

        def enum(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if not any(_same(value, allowed) for allowed in arg):
                errors.append((at(parent, key), "schema.enum", message))

        return enum

    def const_check(self, arg: Any) -> Check:
        def const(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if not _same(value, arg):
                errors.append((at(parent, key), "schema.const", f"must be {arg}"))

        return const

    def bound_check(self, name: str, arg: Any, pointer: str) -> Check:
        if isinstance(arg, bool) or not isinstance(arg, int | float):
            raise self.error(f"{name} must be a number", pointer)
        tests: dict[str, tuple[Callable[[Any], bool], str]] = {
            "minimum": (lambda v: v >= arg, f"must be at least {arg}"),
            "maximum": (lambda v: v <= arg, f"must be at most {arg}"),
            "exclusiveMinimum": (lambda v: v > arg, f"must be greater than {arg}"),
            "exclusiveMaximum": (lambda v: v < arg, f"must be less than {arg}"),
        }
        test, message = tests[name]
        rule = f"schema.{name}"

        def bound(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
            if isinstance(value, int | float) and not isinstance(value, bool) and not test(value):
                errors.append((at(parent, key), rule, message))

        return bound


class _StringLeaf:
    """A string schema's facets: ``passes`` is the fast test, ``report`` explains a failure."""

    __slots__ = ("enum", "high", "low", "pattern", "search", "allowed")

    def __init__(
        self, low: int, high: int | None, pattern: re.Pattern[str] | None, enum: list[Any] | None
    ) -> None:
        self.low = low
        self.high = high if high is not None else 1 << 62
        self.pattern = pattern
        self.search = pattern.search if pattern is not None else None
        self.enum = enum
        self.allowed = frozenset(item for item in enum if isinstance(item, str)) if enum is not None else None

    def passes(self, value: Any) -> bool:
        if type(value) is not str:
            return False
        if not self.low <= len(value) <= self.high:
            return False
        if self.search is not None and self.search(value) is None:
            return False
        return self.allowed is None or value in self.allowed

    def report(self, value: Any, path: str, errors: list[ErrorTuple]) -> None:
        if not isinstance(value, str):
            errors.append((path, "schema.type", f"expected string, got {_kind(value)}"))
            return
        size = len(value)
        if size < self.low:
            errors.append((path, "schema.minLength", f"at least {self.low} characters, got {size}"))
        if size > self.high:
            errors.append((path, "schema.maxLength", f"at most {self.high} characters, got {size}"))
        if self.pattern is not None and self.pattern.search(value) is None:
            errors.append((path, "schema.pattern", f"does not match the pattern {self.pattern.pattern}"))
        if self.allowed is not None and value not in self.allowed:
            shown = ", ".join(map(str, self.enum or []))
            errors.append((path, "schema.enum", f"not one of the allowed values ({shown})"))


def _accept(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
    return None


def _refuse(value: Any, parent: str, key: Any, errors: list[ErrorTuple]) -> None:
    errors.append((at(parent, key), "schema.false", "is not allowed by the schema"))

"""The hot path of a mapping: objects and plain-path fields generated as straight-line Python.

Most fields are "a path on the record, a few transforms, maybe required": ``{path: a.b.c, then: [strip,
{truncate: 50}], required: true}``. Run as nested closures, each such field costs four or five Python
calls per record (field, getter, the missing check, each transform) plus the object's loop. Here, when
the route is compiled, each object (the payload, a nested ``object``, the element of an ``each``, a
followup) is written out once as one Python function: the ``dict.get`` chains and the missing checks of
its plain fields inline, their transforms called directly, other fields (``concat``, ``cases``...)
called as their compiled closures. This is what brings the declarative mapping close to a hand-written
one (``bench/bench_mapping.py``).

Only code *shapes* are generated: keys, field names and transforms are passed in as variables of the
function's namespace (``k0_0_1``, ``n0``, ``t0_1``), never pasted into the source, so nothing written in
a route file is ever executed. (The few built-in transforms that are one line of Python, such as
``strip``, carry that line as their ``inline`` attribute, a constant of this package.)
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lienthong.mapping.core import EMPTY_TYPES, ErrorTuple, Fail, Getter, prefixed

Transform = Callable[[Any], Any]
_PRESENT = "v is not None and (v or type(v) not in EMPTY)"
_SERIAL = itertools.count(1)


@dataclass(frozen=True)
class Read:
    """Where a plain path reads: the ``steps`` of a ``dict.get`` chain (else the compiled ``get``),
    on the current data or (``on_root``) on the record."""

    get: Callable[[Any], Any]
    steps: tuple[str | int, ...] | None
    on_root: bool = False


@dataclass(frozen=True)
class PathPlan:
    """A plain-path field: its ``reads`` (the first present one wins: a ``first_of`` of paths), its
    transforms, and what a missing value becomes (``missing``: a default, a ``required`` failure, or
    ``None``, omitted)."""

    reads: tuple[Read, ...]
    chain: tuple[Transform, ...]
    missing: Getter | None

    def function(self, name: str = "field") -> Getter:
        """The field alone, as a ``(data, root) -> value`` function."""
        namespace = _namespace()
        lines = ["def field(data, root):", *self.emit("0", namespace, "    "), "    return v"]
        return _define(lines, namespace, f"<mapping field {name}>", "field")

    def emit(self, tag: str, namespace: dict[str, Any], indent: str) -> list[str]:
        """Lines leaving the field's value (or ``None``) in ``v``."""
        lines = self._emit_read(self.reads[0], f"{tag}_0", namespace, indent)
        for position, read in enumerate(self.reads[1:], start=1):
            lines.append(f"{indent}if not ({_PRESENT}):")
            lines += self._emit_read(read, f"{tag}_{position}", namespace, indent + "    ")
        lines += self._emit_chain(tag, 0, namespace, indent)
        if self.missing is not None:
            namespace[f"m{tag}"] = self.missing
            lines.append(f"{indent}if v is None:")
            lines.append(f"{indent}    v = m{tag}(data, root)")
        return lines

    @staticmethod
    def _emit_read(read: Read, tag: str, namespace: dict[str, Any], indent: str) -> list[str]:
        start = "root" if read.on_root else "data"
        if read.steps is None:
            namespace[f"g{tag}"] = read.get
            return [f"{indent}v = g{tag}({start})"]
        lines = [f"{indent}v = {start}"]
        for i, step in enumerate(read.steps):
            namespace[f"k{tag}_{i}"] = step
            if isinstance(step, str):
                lines.append(f"{indent}v = v.get(k{tag}_{i}) if isinstance(v, dict) else None")
            else:
                lines.append(f"{indent}v = _index(v, k{tag}_{i})")
        return lines

    def _emit_chain(self, tag: str, position: int, namespace: dict[str, Any], indent: str) -> list[str]:
        if position == len(self.chain):
            return [f"{indent}if v is not None and not v and type(v) in EMPTY:", f"{indent}    v = None"]
        transform = self.chain[position]
        inline = getattr(transform, "inline", None)  # a built-in one-liner such as strip: no call
        if isinstance(inline, str):
            step = f"{indent}    {inline}"
        else:
            namespace[f"t{tag}_{position}"] = transform
            step = f"{indent}    v = t{tag}_{position}(v)"
        return [
            f"{indent}if {_PRESENT}:",
            step,
            *self._emit_chain(tag, position + 1, namespace, indent + "    "),
            f"{indent}else:",
            f"{indent}    v = None",
        ]


def object_function(items: Sequence[tuple[str, PathPlan | Getter]], name: str = "object") -> Getter:
    """``(data, root) -> dict | None`` for ``items`` (target field, plan or compiled closure), in order.

    A field that fails (``Fail``) is left out and its errors, prefixed with the field name, are raised
    together once every sibling has been mapped, with what was mapped as ``partial``.
    """
    namespace = _namespace()
    lines = ["def build(data, root):", "    out = {}", "    errors = None"]
    for position, (field, plan) in enumerate(items):
        tag = str(position)
        namespace[f"n{tag}"] = field
        lines.append("    try:")
        if isinstance(plan, PathPlan):
            lines += plan.emit(tag, namespace, "        ")
        else:
            namespace[f"f{tag}"] = plan
            lines.append(f"        v = f{tag}(data, root)")
        lines += [
            "        if v is not None:",
            f"            out[n{tag}] = v",
            "    except Fail as fail:",
            f"        errors = _collect(errors, n{tag}, fail)",
        ]
    lines += ["    if errors:", "        raise Fail(errors, out)", "    return out or None"]
    return _define(lines, namespace, f"<mapping object {name}>", "build")


def _collect(errors: list[ErrorTuple] | None, field: str, fail: Fail) -> list[ErrorTuple]:
    return (errors or []) + prefixed(field, fail.errors)


def _index(value: Any, position: int) -> Any:
    if isinstance(value, list) and -len(value) <= position < len(value):
        return value[position]
    return None


def _namespace() -> dict[str, Any]:
    return {"EMPTY": EMPTY_TYPES, "Fail": Fail, "_collect": _collect, "_index": _index}


def _define(lines: list[str], namespace: dict[str, Any], filename: str, function: str) -> Any:
    """Compile ``lines`` and return ``function`` from them. The source is registered with ``linecache``
    so that a traceback through generated code shows the generated lines."""
    source = "\n".join(lines) + "\n"
    filename = f"{filename[:-1]} #{next(_SERIAL)}>"  # unique: routes share field paths such as "fields"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - shapes only, see module doc
    return namespace[function]


def object_validator(
    *,
    leaves: dict[str, Any],
    others: dict[str, Callable[..., None]],
    order: Sequence[str],
    required: Sequence[str],
    closed: bool,
    extra_check: Callable[..., None] | None,
    typed: bool,
    at: Callable[[str, Any], str],
    kind: Callable[[Any], str],
    join: Callable[[str, str], str],
) -> Callable[[Any, str, Any, list[ErrorTuple]], None]:
    """A JSON Schema object check (``schema.py``) as one generated function: each string property's
    facets tested inline (``leaves``: name -> an object with ``low``, ``high``, ``search``, ``allowed``
    and ``report``), other properties called (``others``), in schema ``order``."""
    required_set, known = frozenset(required), frozenset(order)

    def missing(path: str, value: dict[str, Any], errors: list[ErrorTuple]) -> None:
        errors += [
            (join(path, name), "schema.required", "is required") for name in required if name not in value
        ]

    def extras(path: str, value: dict[str, Any], errors: list[ErrorTuple]) -> None:
        for name, item in value.items():
            if name in known:
                continue
            if closed:
                errors.append(
                    (join(path, name), "schema.additionalProperties", "is not allowed by the schema")
                )
            elif extra_check is not None:
                extra_check(item, path, name, errors)

    namespace: dict[str, Any] = {
        "MISSING": _MISSING, "REQUIRED": required_set, "KNOWN": known, "at": at, "kind": kind,
        "join": join, "missing": missing, "extras": extras,
    }  # fmt: skip
    lines = ["def check(value, parent, key, errors):", "    if not isinstance(value, dict):"]
    if typed:
        lines.append(
            '        errors.append((at(parent, key), "schema.type", "expected object, got " + kind(value)))'
        )
    lines += ["        return", "    path = at(parent, key)"]
    if required_set:
        lines += ["    if not REQUIRED <= value.keys():", "        missing(path, value, errors)"]
    for position, name in enumerate(order):
        namespace[f"n{position}"] = name
        lines += [f"    v = value.get(n{position}, MISSING)", "    if v is not MISSING:"]
        leaf = leaves.get(name)
        if leaf is None:
            namespace[f"c{position}"] = others[name]
            lines.append(f"        c{position}(v, path, n{position}, errors)")
            continue
        tests = ["type(v) is str"]
        if leaf.low > 0:
            namespace[f"lo{position}"] = leaf.low
            tests.append(f"lo{position} <= len(v)")
        if leaf.high < 1 << 62:
            namespace[f"hi{position}"] = leaf.high
            tests.append(f"len(v) <= hi{position}")
        if leaf.search is not None:
            namespace[f"s{position}"] = leaf.search
            tests.append(f"s{position}(v) is not None")
        if leaf.allowed is not None:
            namespace[f"a{position}"] = leaf.allowed
            tests.append(f"v in a{position}")
        namespace[f"r{position}"] = leaf.report
        lines += [
            f"        if not ({' and '.join(tests)}):",
            f"            r{position}(v, join(path, n{position}), errors)",
        ]
    if closed or extra_check is not None:
        lines += ["    if not value.keys() <= KNOWN:", "        extras(path, value, errors)"]
    check: Callable[[Any, str, Any, list[ErrorTuple]], None] = _define(
        lines, namespace, "<schema object>", "check"
    )
    return check


_MISSING = object()

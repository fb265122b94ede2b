"""``${name.path}`` placeholders in target YAML, filled per request.

A value that is exactly one placeholder keeps its type (``data: "${items}"`` becomes a list);
a placeholder inside a longer string is formatted as text.
"""

from __future__ import annotations

import re
from typing import Any

from lienthong.errors import ConfigError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


def lookup(context: dict[str, Any], dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise ConfigError(f"placeholder ${{{dotted}}}: nothing named {part!r} here")
    return value


def render(template: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return lookup(context, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(lookup(context, m.group(1))), template)
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, context) for value in template]
    return template


def placeholders(template: Any) -> set[str]:
    """Every placeholder name used in a template (validated when the target file is loaded)."""
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    return set()

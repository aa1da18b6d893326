"""One-line descriptions of invalid JSON documents (execution input, Lambda events).

A pydantic error says what went wrong ("Input should be a valid integer"); a person fixing an
execution input also needs what is *allowed* ("an integer >= 60"). The allowed values come from the
model's JSON schema, so the message follows the model when a field or constraint changes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

_MAX_SHOWN = 60  # characters of a rejected value quoted back in a message
FIX_EXECUTION_INPUT = "Fix the execution input and start a new execution."


def describe_invalid_document(error: ValidationError, model: type[BaseModel], root: str) -> str:
    """`root.path.to.field: expected <allowed>, got <value>` for the first problem of `error`."""
    schema = model.model_json_schema()
    problems = [(problem, *_locate(schema, problem)) for problem in error.errors()]
    first, path, node = problems[0]
    where = ".".join([root, *path]) if path else root
    kind = first["type"]
    if kind == "missing":
        what = "missing; add it"
    elif kind == "extra_forbidden":
        allowed = sorted(_resolve(schema, node).get("properties", {}))
        what = "unknown field; remove it" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    elif kind == "value_error":  # a validator's own message names the problem and the bound
        what = first["msg"].removeprefix("Value error, ")
    else:
        what = f"expected {_allowed(schema, node) or first['msg']}, got {_shown(first.get('input'))}"
    # A union reports one error per member type under the same field: count fields, not errors.
    more = len({tuple(field) for _, field, _ in problems}) - 1
    return f"{where}: {what}" + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _locate(schema: dict[str, Any], problem: Any) -> tuple[list[str], dict[str, Any]]:
    """The field path a problem is about, and the schema node that says what the field allows."""
    loc = [str(part) for part in problem["loc"]]
    if problem["type"] in ("missing", "extra_forbidden"):
        # The field is not in the document (or not in the model): its parent holds the rules.
        return loc, _descend(schema, schema, loc[:-1])[1]
    return _descend(schema, schema, loc)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _children(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(schema, node)
    members = node.get("anyOf") or node.get("oneOf")
    return [_resolve(schema, member) for member in members] if members else [node]


def _descend(schema: dict[str, Any], node: dict[str, Any], loc: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Follow `loc` into the schema; parts it cannot follow are union member tags (dropped)."""
    path: list[str] = []
    for part in loc:
        for member in _children(schema, node):
            if part in member.get("properties", {}):
                node = member["properties"][part]
                break
            if isinstance(member.get("additionalProperties"), dict) or member.get("type") == "object":
                extra = member.get("additionalProperties")
                node = extra if isinstance(extra, dict) else {}
                break
            if member.get("type") == "array" and part.isdigit():
                node = member.get("items", {})
                break
        else:
            return path, node
        path.append(part)
    return path, node


def _allowed(schema: dict[str, Any], node: dict[str, Any]) -> str:
    members = [m for m in _children(schema, node) if m.get("type") != "null"]
    scalars = {m.get("type") for m in members}
    if len(members) > 2 and scalars <= {"string", "integer", "number", "boolean"}:
        return "a string, number or boolean"
    return " or ".join(filter(None, (_describe(m) for m in members)))


def _describe(node: dict[str, Any]) -> str:
    if "enum" in node:
        values = [repr(value) for value in node["enum"]]
        listed = ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]
        return f"one of {listed}"
    if "const" in node:
        return repr(node["const"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        bounds = [f"{op} {node[key]}" for key, op in _BOUNDS if key in node]
        return ("an integer" if kind == "integer" else "a number") + (" " + " and ".join(bounds) if bounds else "")
    if kind == "string":
        if "maxLength" in node:
            return f"a string of at most {node['maxLength']} characters"
        if "pattern" in node:
            return f"a string matching {node['pattern']}"
        return "a string"
    return _KINDS.get(str(kind), "")


_BOUNDS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
_KINDS = {"boolean": "true or false", "object": "a JSON object", "array": "a list"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."

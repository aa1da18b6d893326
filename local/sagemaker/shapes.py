"""Checks values against the botocore service model, the way SageMaker's front end does.

The same checker serves two sides: requests are validated before any work starts (a bad request
gets SageMaker's `ValidationException` wording: "1 validation error detected: Value ... at
'trainingJobName' failed to satisfy constraint: ..."), and the contract tests run every response
through it against the operation's output shape.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import Any

import botocore.session
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape


@lru_cache(maxsize=4)
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


# AWS checks patterns with Java's regex engine. The `regex` package reads Java's Unicode classes
# (`\p{L}`, `\p{Alnum}`, ...), which `re` refuses; what remains is Java's way of naming the
# supplementary planes as UTF-16 surrogate pairs, which Python spells as one range.
_JAVA_SURROGATE_PAIRS = r"\uD800\uDC00-\uDBFF\uDFFF"
_PYTHON_SUPPLEMENTARY = r"\U00010000-\U0010FFFF"


def python_pattern(pattern: str) -> str:
    """A botocore (Java) pattern in a form the `regex` package matches the same way."""
    return pattern.replace(_JAVA_SURROGATE_PAIRS, _PYTHON_SUPPLEMENTARY)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> regex.Pattern[str]:
    # Every pattern of the SageMaker model compiles (a contract test pins it): none is skipped.
    return regex.compile(python_pattern(pattern))


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    return str(value)


class ShapeChecker:
    """Walks a value against a shape and lists every constraint it breaks."""

    def __init__(self, model: ServiceModel, *, strict_members: bool = True) -> None:
        self._model = model
        self._strict_members = strict_members

    def operation(self, name: str) -> OperationModel:
        return self._model.operation_model(name)

    def problems(self, value: Any, shape: Shape | None, path: str = "") -> list[str]:
        out: list[str] = []
        if shape is not None:
            self._check(value, shape, path, out)
        return out

    def _check(self, value: Any, shape: Shape, path: str, out: list[str]) -> None:
        where = path or "request"
        if isinstance(shape, StructureShape):
            if not isinstance(value, dict):
                out.append(
                    f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a structure"
                )
                return
            for required in shape.required_members:
                if value.get(required) is None:
                    out.append(
                        f"Value null at '{self._join(path, required)}' failed to satisfy "
                        "constraint: Member must not be null"
                    )
            for key, item in value.items():
                member = shape.members.get(key)
                if member is None:
                    if self._strict_members:
                        out.append(f"Unknown member '{self._join(path, key)}': it is not part of {shape.name}")
                    continue
                if item is not None:
                    self._check(item, member, self._join(path, key), out)
            return
        if isinstance(shape, ListShape):
            if not isinstance(value, list):
                out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a list")
                return
            self._length(value, shape, where, out, "length")
            for index, item in enumerate(value):
                self._check(item, shape.member, f"{where}.{index + 1}.member", out)
            return
        if isinstance(shape, MapShape):
            if not isinstance(value, dict):
                out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a map")
                return
            self._length(value, shape, where, out, "length")
            for key, item in value.items():
                self._check(key, shape.key, f"{where}.key", out)
                self._check(item, shape.value, f"{where}.{key}", out)
            return
        self._scalar(value, shape, where, out)

    def _scalar(self, value: Any, shape: Shape, where: str, out: list[str]) -> None:
        kind = shape.type_name
        if kind == "string":
            if not isinstance(value, str):
                out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a string")
                return
            self._length(value, shape, where, out, "length")
            enum = shape.metadata.get("enum")
            if enum and value not in enum:
                out.append(
                    f"Value {_show(value)} at '{where}' failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(enum)}]"
                )
            pattern = shape.metadata.get("pattern")
            if pattern and value and _compiled(pattern).fullmatch(value) is None:
                out.append(
                    f"Value {_show(value)} at '{where}' failed to satisfy constraint: "
                    f"Member must satisfy regular expression pattern: {pattern}"
                )
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be an integer")
                return
            self._range(value, shape, where, out)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a number")
                return
            self._range(value, shape, where, out)
        elif kind == "boolean":
            if not isinstance(value, bool):
                out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a boolean")
        elif kind == "timestamp":
            if isinstance(value, bool) or not isinstance(value, int | float | str | _dt.datetime):
                out.append(
                    f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a timestamp"
                )
        elif kind == "blob" and not isinstance(value, str | bytes | bytearray):
            out.append(f"Value {_show(value)} at '{where}' failed to satisfy constraint: Member must be a blob")

    @staticmethod
    def _length(value: Any, shape: Shape, where: str, out: list[str], what: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        size = len(value)
        if low is not None and size < low:
            out.append(
                f"Value {_show(value)} at '{where}' failed to satisfy constraint: "
                f"Member must have {what} greater than or equal to {low}"
            )
        if high is not None and size > high:
            out.append(
                f"Value at '{where}' failed to satisfy constraint: Member must have {what} less than or equal to {high}"
            )

    @staticmethod
    def _range(value: float, shape: Shape, where: str, out: list[str]) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            out.append(
                f"Value {_show(value)} at '{where}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {low}"
            )
        if high is not None and value > high:
            out.append(
                f"Value {_show(value)} at '{where}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {high}"
            )

    @staticmethod
    def _join(path: str, member: str) -> str:
        return f"{path}.{_camel(member)}" if path else _camel(member)


def project(value: Any, shape: Shape | None) -> Any:
    """Keep only what the shape declares: a stored record answers as the operation's output."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            key: project(item, shape.members[key])
            for key, item in value.items()
            if key in shape.members and item is not None
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [project(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: project(item, shape.value) for key, item in value.items()}
    return value


def validation_message(problems: list[str]) -> str:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)

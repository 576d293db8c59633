"""One generic validator of requests against botocore's Rekognition model.

botocore validates little on the client (types, and minimums only), and other clients validate
nothing, so the server checks everything the model states: required members, types, lengths,
ranges, patterns and enums. It answers the way AWS's JSON services do: a body or value of the
wrong JSON type is a SerializationException; constraint violations are gathered into one
ValidationException ("N validation errors detected: ..."). Blobs arrive base64-encoded and leave
as bytes, so handlers never see the wire encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import regex
from botocore.model import OperationModel, Shape

from ..errors import (
    ImageTooLargeException,
    RekognitionError,
    SerializationException,
    ValidationException,
)

# Keep error messages readable when a client sends huge values.
_SHOWN_CHARS = 80


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in `body` (UTF-8); an empty body is an empty request, as AWS treats it."""
    if not body.strip():
        return {}
    try:
        # Decoded strictly here: json.loads(bytes) would let UTF-8-encoded surrogates through.
        text = body.decode()
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise SerializationException(f"Request body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise SerializationException("Request body must be a JSON object.")
    # A \uD800-\uDFFF escape that is not half of a pair is no character: nothing downstream
    # (responses, the audit log, the store) could encode it.
    if _SURROGATE_ESCAPE.search(text) and not _encodable(parsed):
        raise SerializationException("Request body holds an unpaired \\uD800-\\uDFFF escape.")
    return parsed


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: object) -> bool:
    """Whether every string (key or value) in the parsed JSON `value` is valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(item) for item in value)
    return True


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    # The model's patterns are Java regular expressions (\p{L} and friends), matched whole.
    return regex.compile(pattern)


def _show(value: object) -> str:
    if isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return text


def _member_path(parent: str, member: str) -> str:
    # AWS names members in lowerCamelCase in its messages: "image.bytes", "maxFaces".
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Validator:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.blob_too_large: str | None = None

    def violate(self, value: object, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.violations.append(
            f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def check(self, value: object, shape: Shape, path: str) -> object:
        kind = shape.type_name
        if kind == "structure":
            return self.structure(value, shape, path)
        if kind == "list":
            items = self._expect(value, list, "array", path)
            self._length(items, len(items), shape, path, "length")
            return [
                self.check(item, shape.member, f"{path}.{i + 1}") for i, item in enumerate(items)
            ]
        if kind == "map":
            entries = self._expect(value, dict, "object", path)
            self._length(entries, len(entries), shape, path, "length")
            return {
                self.check(k, shape.key, f"{path}.key"): self.check(v, shape.value, f"{path}.{k}")
                for k, v in entries.items()
            }
        if kind == "string":
            return self.string(value, shape, path)
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                self._wrong_type(value, "an integer", path)
            self._range(value, shape, path)
            return value
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._wrong_type(value, "a number", path)
            self._range(value, shape, path)
            return float(value)  # type: ignore[arg-type]
        if kind == "boolean":
            return self._expect(value, bool, "a boolean", path)
        if kind == "blob":
            return self.blob(value, shape, path)
        if kind == "timestamp":
            # JSON 1.1 sends timestamps as epoch seconds.
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._wrong_type(value, "epoch seconds", path)
            return datetime.fromtimestamp(value, UTC)  # type: ignore[arg-type]
        raise SerializationException(f"Unsupported shape type {kind} at '{path}'.")

    def structure(self, value: object, shape: Shape, path: str) -> dict[str, Any]:
        fields = self._expect(value, dict, "object", path)
        members = shape.members
        for name in fields:
            if name not in members:
                self.violations.append(
                    f"Member '{_show(name)}' at '{path or 'request'}' is not a member of "
                    f"{shape.name}"
                )
        out: dict[str, Any] = {}
        for name, member_shape in members.items():
            member_path = _member_path(path, name)
            member_value = fields.get(name)
            if member_value is None:
                if name in shape.required_members:
                    self.violate(None, member_path, "Member must not be null")
                continue
            out[name] = self.check(member_value, member_shape, member_path)
        return out

    def string(self, value: object, shape: Shape, path: str) -> str:
        text = self._expect(value, str, "a string", path)
        self._length(text, len(text), shape, path, "length")
        enum = shape.enum
        if enum and text not in enum:
            self.violate(text, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern and _compiled(pattern).fullmatch(text) is None:
            self.violate(text, path, f"Member must satisfy regular expression pattern: {pattern}")
        return text

    def blob(self, value: object, shape: Shape, path: str) -> bytes:
        encoded = self._expect(value, str, "a base64 string", path)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SerializationException(f"Value at '{path}' is not valid base64.") from exc
        maximum = shape.metadata.get("max")
        if maximum is not None and len(data) > maximum:
            self.blob_too_large = (
                f"Value at '{path}' is {len(data)} bytes; the limit is {maximum} bytes."
            )
        minimum = shape.metadata.get("min")
        if minimum is not None and len(data) < minimum:
            self.violate(data, path, f"Member must have length greater than or equal to {minimum}")
        return data

    def _length(self, value: object, size: int, shape: Shape, path: str, what: str) -> None:
        minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
        if minimum is not None and size < minimum:
            self.violate(value, path, f"Member must have {what} greater than or equal to {minimum}")
        if maximum is not None and size > maximum:
            self.violate(value, path, f"Member must have {what} less than or equal to {maximum}")

    def _range(self, value: Any, shape: Shape, path: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            self.violate(value, path, "Member must be a finite number")
        self._length(value, value, shape, path, "value")

    def _expect(self, value: object, kind: type, name: str, path: str) -> Any:
        if not isinstance(value, kind):
            self._wrong_type(value, name, path)
        return value

    @staticmethod
    def _wrong_type(value: object, expected: str, path: str) -> None:
        raise SerializationException(
            f"Expected {expected} at '{path or 'request'}', got {_json_type(value)}."
        )


def too_large(operation: OperationModel, message: str) -> RekognitionError:
    """The error for oversized input: Rekognition's modelled ImageTooLargeException wherever the
    operation declares it (image operations), else a ValidationException."""
    if any(error.name == ImageTooLargeException.code for error in operation.error_shapes):
        return ImageTooLargeException(message)
    return ValidationException(message)


def validate_request(operation: OperationModel, request: dict[str, Any]) -> dict[str, Any]:
    """Check `request` against the operation's input shape; return it with blobs as bytes."""
    shape = operation.input_shape
    if shape is None:
        return {}
    validator = _Validator()
    converted = validator.structure(request, shape, "")
    if validator.blob_too_large is not None:
        raise too_large(operation, validator.blob_too_large)
    count = len(validator.violations)
    if count:
        plural = "s" if count > 1 else ""
        raise ValidationException(
            f"{count} validation error{plural} detected: " + "; ".join(validator.violations)
        )
    return converted


def response_violations(operation: OperationModel, response: object) -> list[str]:
    """How a response (as parsed from JSON) breaks the operation's output shape, in the words
    request violations use; [] when it conforms. Tests hold every answer to it, since SDKs
    other than botocore are less lenient about what they parse."""
    shape = operation.output_shape
    if shape is None:
        return [] if response == {} else [f"{operation.name} has no output, got {response!r:.80}"]
    validator = _Validator()
    try:
        validator.structure(response, shape, "")
    except SerializationException as exc:
        validator.violations.append(exc.message)
    if validator.blob_too_large is not None:
        validator.violations.append(validator.blob_too_large)
    return validator.violations

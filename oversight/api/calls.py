"""Running an operation outside the HTTP server exactly as the API would: validated against
botocore's model, admitted by the governance gate and audited. The CLI runs as the local
operator; the web console runs as the key that logged in."""

from __future__ import annotations

import base64
from typing import Any

from .. import operations
from ..governance.gate import governed
from ..operations.context import RequestContext
from .service_model import operation_model
from .validation import validate_request


def _wire(value: Any) -> Any:
    """The JSON form the API would receive (blobs base64), for the same request validation."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


def governed_call(
    name: str, request: dict[str, Any], ctx: RequestContext | None = None, metered: bool = True
) -> dict[str, Any]:
    """Validate, admit, run and audit operation `name`; `ctx` defaults to the local operator
    (`metered`: see gate.governed)."""
    ctx = ctx or RequestContext.local()
    model = operation_model(name)
    checked = validate_request(model, _wire(request)) if model is not None else request
    return governed(ctx, name, checked, lambda: operations.call(name, checked, ctx), metered)

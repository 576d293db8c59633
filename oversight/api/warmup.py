"""Warm start: when the server starts, each image operation runs once on a real photo (the
astronaut that scikit-image ships), so every model is loaded and its first inference done before
the first client request pays for it. It runs in a background thread, in-process and outside
governance (it is no client's request and reads no client data); GET /health reports it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from typing import Any

from ..models.base import Model
from ..operations import call
from ..operations.context import RequestContext

log = logging.getLogger(__name__)

_status = "off"  # off | warming | ready


def _photo() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _requests(photo: bytes) -> list[tuple[str, dict[str, Any]]]:
    image = {"Bytes": photo}
    return [
        ("DetectFaces", {"Image": image, "Attributes": ["ALL"]}),
        ("CompareFaces", {"SourceImage": image, "TargetImage": image}),
        ("DetectLabels", {"Image": image, "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"]}),
        ("DetectText", {"Image": image}),
        ("DetectModerationLabels", {"Image": image}),
        ("DetectProtectiveEquipment", {"Image": image}),
    ]


def _warm_up() -> None:
    global _status
    started = time.monotonic()
    ctx = RequestContext.local()
    for name, request in _requests(_photo()):
        try:
            call(name, request, ctx)
        except Exception:  # a missing optional model must not stop the server
            log.exception("warm start: %s failed", name)
    _status = "ready"
    log.info("warm start: %d models loaded in %.1f s", len(Model.loaded_models()),
             time.monotonic() - started)


def start_warm_up() -> None:
    """Start warming the models in the background (once per process)."""
    global _status
    if _status != "off":
        return
    _status = "warming"
    threading.Thread(target=_warm_up, name="warm-start", daemon=True).start()


def warm_status() -> dict[str, Any]:
    """{status: off | warming | ready, loaded: class names of the loaded models}."""
    return {"Status": _status, "Loaded": Model.loaded_models()}

"""Oversight: accountable, self-hosted image and video analysis with Rekognition's API.

The Python API (oversight/library.py) is imported on first use, so `import oversight` stays
cheap for the CLI and for code that only needs a submodule:

    import oversight
    faces = oversight.detect_faces("group.jpg")
    oversight.call("DetectLabels", {"Image": {"Bytes": data}})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "call", "compare", "detect_faces", "embed", "similarity"]

if TYPE_CHECKING:
    from .library import call, compare, detect_faces, embed, similarity


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import library

        return getattr(library, name)
    raise AttributeError(f"module 'oversight' has no attribute {name!r}")

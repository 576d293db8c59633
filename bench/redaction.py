"""Faces still detectable after redaction: Oversight's RedactFaces vs a plain blur, same run.

    .venv/bin/python bench/redaction.py [IMAGE ...]

The peer is what a short script does: detect faces (the analyzer, score >= 0.5) and Gaussian-blur
each box with a 31-pixel kernel. Oversight widens the boxes, also redacts faint detections, and
re-detects on the encoded output until nothing is left. For each, the analyzer's detector is run on
the redacted image and the faces it still finds are counted (lower is better; 0 is the goal).
Default images: the group photos under ../shared/data/faces.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from oversight.analysis import face_analyzer
from oversight.images import DecodedImage, decode_image, load_image
from oversight.operations.redaction import encoder
from oversight.redaction import redact_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
DEFAULT_IMAGES = [
    *sorted((SHARED / "face-api.js" / "examples" / "images").glob("bbt*.jpg")),
    SHARED / "deepface" / "tests" / "unit" / "dataset" / "couple.jpg",
]


def plain_blur(image: DecodedImage) -> bytes:
    rgb = image.rgb.copy()
    for face in face_analyzer().detect(image):
        x, y, w, h = (max(0, int(v)) for v in face.box)
        rgb[y : y + h, x : x + w] = cv2.GaussianBlur(rgb[y : y + h, x : x + w], (31, 31), 0)
    return encoder("JPEG")(rgb)


def oversight(method: str) -> Callable[[DecodedImage], bytes]:
    def run(image: DecodedImage) -> bytes:
        return redact_image(image, method, encode=encoder("JPEG")).encoded or b""

    return run


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or [p for p in DEFAULT_IMAGES if p.exists()]
    if not paths:
        sys.exit("no images: pass paths, or put ../shared/data beside the repository")
    images = [load_image(p) for p in paths]
    face_analyzer().detect(images[0])  # load the models outside the timings
    candidates = {
        "plain blur (peer)": plain_blur,
        "Oversight BLUR": oversight("BLUR"),
        "Oversight PIXELATE": oversight("PIXELATE"),
    }
    before = sum(len(face_analyzer().detect(image)) for image in images)
    print(f"{len(images)} images, {before} faces detected before redaction")
    left: dict[str, int] = {}
    for name, redact in candidates.items():
        started = time.perf_counter()
        outputs = [redact(image) for image in images]
        seconds = (time.perf_counter() - started) / len(images)
        left[name] = sum(len(face_analyzer().detect(decode_image(o, max_bytes=len(o))))
                         for o in outputs)
        print(f"{name:20s} faces still detected: {left[name]:3d}   {seconds:.2f} s/image")
    peer = left["plain blur (peer)"]
    for name in ("Oversight BLUR", "Oversight PIXELATE"):
        ratio = "n/a" if peer == 0 else f"{left[name] / peer:.2f}x"
        print(f"{name}: {ratio} the faces the plain blur leaves detectable")


if __name__ == "__main__":
    main()

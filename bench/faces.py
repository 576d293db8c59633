"""Detect + embed speed: Oversight vs face_recognition (dlib HOG + ResNet), same photos, same run.

    .venv/bin/pip install --no-deps face-recognition==1.3.0   # the peer (see `make bench`)
    .venv/bin/python bench/faces.py [--repeat 20]

Prints per-image latency (median, p90) and images/s for each pipeline and the ratio against
face_recognition. Oversight runs with OVERSIGHT_INFERENCE_THREADS as configured (default: up
to 4 threads); set it to 1 for a one-core comparison with dlib, which uses one core.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from oversight.analysis import face_analyzer
from oversight.config import settings
from oversight.images import decode_image
from oversight.models.sface import SFace

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ONE_FACE_PHOTO = SHARED / "labels" / "opencv-samples" / "grace_hopper_matplotlib.jpg"
SFACE_ONLY = SFace()
PHOTO_SET = sorted((SHARED / "faces" / "face-api.js" / "examples" / "images").glob("*/*.png"))


def photo_640x480(path: Path) -> bytes:
    """Centre-crop to 4:3 and resize to 640 x 480, re-encoded as JPEG."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    crop_h = min(height, width * 3 // 4)
    crop_w = crop_h * 4 // 3
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    image = image.crop((left, top, left + crop_w, top + crop_h)).resize((640, 480))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def oversight_sface(jpeg: bytes) -> int:
    analyzer = face_analyzer()
    image = decode_image(jpeg)
    faces = analyzer.detect(image)
    for face in faces:
        SFACE_ONLY(image.rgb, face.landmarks5)
    return len(faces)


def oversight_fused(jpeg: bytes) -> int:
    analyzer = face_analyzer()
    image = decode_image(jpeg)
    faces = analyzer.detect(image)
    for face in faces:
        analyzer.embed(image, face)
    return len(faces)


def face_recognition_peer(jpeg: bytes) -> int:
    import face_recognition

    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    boxes = face_recognition.face_locations(rgb)  # HOG, upsample once (library default)
    face_recognition.face_encodings(rgb, boxes)
    return len(boxes)


PIPELINES: dict[str, Callable[[bytes], int]] = {
    "face_recognition (HOG + ResNet)": face_recognition_peer,
    "oversight YuNet + SFace": oversight_sface,
    "oversight YuNet + SFace + dlib ResNet (fused, default)": oversight_fused,
}


def measure(pipeline: Callable[[bytes], int], photos: list[bytes], repeat: int) -> list[float]:
    pipeline(photos[0])  # load models outside the timing
    timings = []
    for _ in range(repeat):
        for photo in photos:
            start = time.perf_counter()
            pipeline(photo)
            timings.append(time.perf_counter() - start)
    return timings


def report(title: str, photos: list[bytes], repeat: int) -> None:
    print(f"\n{title} ({len(photos)} photo(s) x {repeat})")
    print(f"{'pipeline':58} {'median ms':>10} {'p90 ms':>8} {'img/s':>7} {'speed-up':>9}")
    baseline = None
    for name, pipeline in PIPELINES.items():
        timings = measure(pipeline, photos, repeat)
        median = statistics.median(timings)
        p90 = float(np.percentile(timings, 90))
        rate = len(timings) / sum(timings)
        baseline = baseline or median
        print(
            f"{name:58} {median * 1e3:10.1f} {p90 * 1e3:8.1f} {rate:7.2f} {baseline / median:8.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"oversight inference threads: {settings().inference_threads}")
    report("one-face photo, 640x480", [photo_640x480(ONE_FACE_PHOTO)], args.repeat)
    photos = [path.read_bytes() for path in PHOTO_SET]
    report("face-api.js identity photos (real sizes)", photos, max(1, args.repeat // 10))


if __name__ == "__main__":
    main()

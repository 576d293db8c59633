"""Face embeddings of image files, cached on disk so repeated evaluations take seconds.

Each file gets the embedding of one face, or None when no face is found: the largest (what
IndexFaces with MaxFaces=1 stores) or, for LFW-style crops that centre the named person, the
most central. The cache is one .npz per embedding model and choice under the data dir, keyed by
path, size and modification time, so an edited or replaced image is embedded again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from ..analysis import EMBEDDING_MODEL, DetectedFace, face_analyzer
from ..analysis.faces import central_face
from ..config import settings
from ..images import DecodedImage, from_array

# Save progress this often, so an interrupted run over thousands of images keeps most of it.
_SAVE_EVERY = 250

FaceChoice = Literal["largest", "central"]
_CHOOSE: dict[str, Callable[[list[DetectedFace], DecodedImage], DetectedFace]] = {
    "largest": lambda faces, image: faces[0],  # detect() sorts largest first
    "central": lambda faces, image: central_face(faces, image.width, image.height),
}


def read_rgb(path: Path) -> DecodedImage:
    """Any image file PIL reads, upright. Evaluation sets come in formats the API refuses
    (PGM, GIF), and the models do not care how the pixels were stored."""
    with Image.open(path) as image:
        return from_array(np.asarray(ImageOps.exif_transpose(image).convert("RGB")))


def _cache_file(choice: FaceChoice) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in EMBEDDING_MODEL)
    return settings().data_dir / "evaluation" / "cache" / f"embeddings-{safe}-{choice}.npz"


def _key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _load_cache(file: Path) -> dict[str, np.ndarray | None]:
    if not file.exists():
        return {}
    with np.load(file) as stored:
        cache: dict[str, np.ndarray | None] = dict(
            zip(stored["keys"].tolist(), stored["vectors"], strict=True))
        # Files without a face are remembered too, so they are not examined on every run.
        cache.update(dict.fromkeys(stored["faceless"].tolist()))
    return cache


def _save_cache(file: Path, cache: dict[str, np.ndarray | None]) -> None:
    """Write atomically: another evaluation may be reading the same cache."""
    found = {key: vector for key, vector in cache.items() if vector is not None}
    file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".npz", delete=False) as handle:
        np.savez(
            handle,
            keys=np.array(list(found), dtype=str),
            vectors=np.stack(list(found.values())) if found else np.zeros((0, 0), np.float32),
            faceless=np.array([key for key, vector in cache.items() if vector is None],
                              dtype=str),
        )
    os.replace(handle.name, file)


def _embed_one(path: Path, choice: FaceChoice) -> np.ndarray | None:
    image = read_rgb(path)
    analyzer = face_analyzer()
    faces = analyzer.detect(image)
    return analyzer.embed(image, _CHOOSE[choice](faces, image)) if faces else None


def embed_files(paths: Iterable[Path], progress: bool = True,
                choice: FaceChoice = "largest") -> dict[Path, np.ndarray | None]:
    """Embedding of the chosen face in each file (None: no face found), using the cache."""
    unique = list(dict.fromkeys(Path(p) for p in paths))
    file = _cache_file(choice)
    cache = _load_cache(file)
    keys = {path: _key(path) for path in unique}
    missing = [path for path in unique if keys[path] not in cache]
    for done, path in enumerate(tqdm(missing, desc="embedding faces", unit="image",
                                     disable=not progress or not missing), start=1):
        cache[keys[path]] = _embed_one(path, choice)
        if done % _SAVE_EVERY == 0:
            _save_cache(file, cache)
    if missing:
        _save_cache(file, cache)
    return {path: cache[keys[path]] for path in unique}

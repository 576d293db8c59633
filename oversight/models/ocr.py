"""PP-OCRv6 text detection and recognition (Apache-2.0) as shipped in the `rapidocr` wheel.

rapidocr does the detection, angle classification, recognition and word splitting; this module
hands it onnxruntime sessions of the model files inside the wheel (our thread budget, no
spinning), sets its sizes for speed and turns its output into plain tuples.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from .base import Model, onnx_session, package_file

Quad = tuple[tuple[float, float], ...]  # 4 corners, pixels, clockwise from top-left
# rapidocr stage -> model file inside the rapidocr wheel
_MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}


@dataclass(frozen=True)
class OcrWord:
    text: str
    score: float  # 0-1
    quad: Quad


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float  # 0-1
    quad: Quad
    words: tuple[OcrWord, ...]


def _quad(points: object) -> Quad:
    return tuple((float(x), float(y)) for x, y in np.asarray(points, np.float64).reshape(4, 2))


class RapidOcr(Model):
    """BGR image -> text lines, each with its words, in reading order."""

    def _load(self) -> None:
        from rapidocr import RapidOCR  # heavy import (omegaconf, shapely): only when used

        self._engine = RapidOCR(
            params={
                "Global.log_level": "error",
                "Global.return_word_box": True,
                # The detector's default upsizes the short side to 736 px (8.5 CPU-s per SROIE
                # receipt, line CER 3.9 %); capping the long side at 1280 px instead reads
                # receipts at their own size (6.9 CPU-s, CER 3.9 %), 960 px loses small print
                # (6.2 CPU-s, CER 4.9 %). Measured on 20 SROIE dev receipts.
                "Det.limit_type": "max",
                "Det.limit_side_len": 1280,
                # Recognition pads every batch of line crops to at least this width (PaddleOCR's
                # default is 320 px at height 48). A receipt is mostly short lines ("RM 5.00"),
                # which then spent most of their compute on padding: 160 px took a third off the
                # CPU time with the same line CER (3.84 vs 3.85 % on 20 SROIE receipts; 96 px:
                # 3.95 %).
                "Rec.rec_img_shape": [3, 48, 160],
            }
        )
        # rapidocr runs a session it is given as is. Ours (base.onnx_session) carry our thread
        # budget and no spinning pool threads: rapidocr's own sessions spin, which under load
        # nearly doubled its CPU time (2.0 -> 1.15 CPU-s per receipt, same text).
        for stage, name in _MODEL_FILES.items():
            node = self._engine.cfg[stage]
            node._set_flag("allow_objects", True)  # the config holds plain values otherwise
            node.session = onnx_session(package_file("rapidocr", "models", name))
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._lock = threading.Lock()  # rapidocr keeps per-call state on the engine

    def predict(self, bgr: np.ndarray) -> list[OcrLine]:
        with self._lock:
            result = self._engine(bgr)
        if result.boxes is None or result.txts is None:
            return []
        words_per_line = result.word_results or ((),) * len(result.txts)
        lines = []
        for box, text, score, words in zip(
            result.boxes, result.txts, result.scores, words_per_line, strict=True
        ):
            lines.append(
                OcrLine(
                    text=str(text),
                    score=float(score),
                    quad=_quad(box),
                    words=tuple(
                        OcrWord(str(w), float(s), _quad(q))
                        for w, s, q in words
                        if q is not None and str(w).strip()
                    ),
                )
            )
        return lines

"""DetectLabels' ImageProperties: quality (brightness, sharpness, contrast) and dominant colours,
for the whole image and for its foreground and background.

Colours are k-means clusters of the pixels in CIE Lab (so "dominant" follows perceived colour),
named by the nearest CSS colour (Pillow's CSS table) and the nearest of Rekognition's simplified
colours. Foreground is separated from background by GrabCut seeded with the image border as
background: the classical segmentation, run on a small copy because its cost grows with pixels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from PIL import ImageColor

DEFAULT_MAX_DOMINANT_COLORS = 10
# Analysis size: colours and quality are stable well below full resolution.
_WORK_SIDE = 256
# GrabCut's cost grows fast with pixels: it segments a 96-px copy and the mask is scaled back.
_GRABCUT_SIDE = 96
_GRABCUT_ITERATIONS = 2
# k-means learns the colours from at most this many pixels (every n-th); all pixels are then
# counted against the learnt centres, so PixelPercent covers the whole region.
_KMEANS_SAMPLE = 4000
# Share of each side treated as certain background when seeding GrabCut.
_BORDER = 0.05
# Laplacian variance (at the 256-px analysis size) that reads as sharpness 50: a whole photo
# in focus lands well above it, a blurred or upscaled one well below.
_SHARPNESS_MIDPOINT = 300.0

# Rekognition's simplified colour vocabulary with representative sRGB values.
_SIMPLIFIED = {
    "red": (220, 20, 60),
    "orange": (255, 140, 0),
    "yellow": (255, 215, 0),
    "green": (34, 139, 34),
    "blue": (30, 80, 200),
    "purple": (128, 0, 128),
    "pink": (255, 150, 190),
    "brown": (139, 90, 43),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
    "grey": (128, 128, 128),
    "teal": (0, 128, 128),
}


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """N x 3 uint8 RGB -> N x 3 float32 Lab (OpenCV's float Lab: L 0-100)."""
    pixels = rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2Lab).reshape(-1, 3)


@lru_cache(maxsize=1)
def _palettes() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    css = sorted(ImageColor.colormap)
    css_rgb = np.array([ImageColor.getrgb(name)[:3] for name in css], np.uint8)
    simple = list(_SIMPLIFIED)
    simple_rgb = np.array(list(_SIMPLIFIED.values()), np.uint8)
    return css, _to_lab(css_rgb), simple, _to_lab(simple_rgb)


def _nearest(lab: np.ndarray, names: list[str], palette: np.ndarray) -> str:
    return names[int(np.argmin(((palette - lab) ** 2).sum(axis=1)))]


def dominant_colors(rgb_pixels: np.ndarray, max_colors: int) -> list[dict[str, Any]]:
    """Up to `max_colors` colour clusters of N x 3 RGB pixels, most common first."""
    if max_colors <= 0 or len(rgb_pixels) == 0:
        return []
    lab = _to_lab(rgb_pixels)
    sample = lab[:: max(1, len(lab) // _KMEANS_SAMPLE)]
    k = min(max_colors, len(sample))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)  # same image, same answer
    _, _, centres = cv2.kmeans(sample, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    assignment = np.argmin(((lab[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    counts = np.bincount(assignment, minlength=k)
    css, css_lab, simple, simple_lab = _palettes()
    colors = []
    for cluster in np.argsort(-counts):
        if counts[cluster] == 0:
            continue
        members = assignment == cluster
        # Report the members' mean in RGB (not the Lab centre converted back): exact pixels.
        red, green, blue = (int(round(v)) for v in rgb_pixels[members].mean(axis=0))
        centre = lab[members].mean(axis=0)
        colors.append(
            {
                "Red": red,
                "Green": green,
                "Blue": blue,
                "HexCode": f"#{red:02x}{green:02x}{blue:02x}",
                "CSSColor": _nearest(centre, css, css_lab),
                "SimplifiedColor": _nearest(centre, simple, simple_lab),
                "PixelPercent": float(100.0 * counts[cluster] / len(lab)),
            }
        )
    return colors


def _quality(gray: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """Brightness, sharpness and contrast (0-100) of the pixels under `mask` (all if None)."""
    region = np.ones(gray.shape, bool) if mask is None else mask
    if not region.any():
        return {"Brightness": 0.0, "Sharpness": 0.0, "Contrast": 0.0}
    values = gray[region].astype(np.float64)
    variance = float(cv2.Laplacian(gray, cv2.CV_64F)[region].var())
    return {
        "Brightness": float(values.mean() / 255.0 * 100.0),
        "Sharpness": 100.0 * variance / (variance + _SHARPNESS_MIDPOINT),
        # RMS contrast: luminance standard deviation as a share of the largest possible.
        "Contrast": float(min(100.0, values.std() / 127.5 * 100.0)),
    }


def _foreground_mask(bgr: np.ndarray) -> np.ndarray:
    full_height, full_width = bgr.shape[:2]
    scale = min(1.0, _GRABCUT_SIDE / max(full_height, full_width))
    bgr = cv2.resize(bgr, (max(1, round(full_width * scale)), max(1, round(full_height * scale))),
                     interpolation=cv2.INTER_AREA)
    height, width = bgr.shape[:2]
    mask = np.full((height, width), cv2.GC_PR_FGD, np.uint8)
    bh, bw = max(1, int(height * _BORDER)), max(1, int(width * _BORDER))
    mask[:bh], mask[-bh:], mask[:, :bw], mask[:, -bw:] = (cv2.GC_BGD,) * 4
    if not (mask == cv2.GC_PR_FGD).any():
        # A sliver of an image (80 x 4000) is all border at this size: nothing to segment.
        return np.zeros((full_height, full_width), bool)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(bgr, mask, None, background, foreground, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    foreground = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    return cv2.resize(foreground, (full_width, full_height), interpolation=cv2.INTER_NEAREST) > 0


def _work_size(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(height, width))
    return cv2.resize(
        rgb,
        (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )


def box_colors(rgb: np.ndarray, box: dict[str, float], max_colors: int) -> list[dict[str, Any]]:
    """DominantColors inside a BoundingBox (ratios of the image; the part inside the image)."""
    height, width = rgb.shape[:2]
    left, top = max(0, int(box["Left"] * width)), max(0, int(box["Top"] * height))
    right = min(width, int(np.ceil((box["Left"] + box["Width"]) * width)))
    bottom = min(height, int(np.ceil((box["Top"] + box["Height"]) * height)))
    if right <= left or bottom <= top:
        return []
    return dominant_colors(_work_size(rgb[top:bottom, left:right]).reshape(-1, 3), max_colors)


def image_properties(
    rgb: np.ndarray, max_colors: int = DEFAULT_MAX_DOMINANT_COLORS
) -> dict[str, Any]:
    """Rekognition's DetectLabelsImageProperties for an RGB image."""
    small = _work_size(rgb)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    foreground = _foreground_mask(np.ascontiguousarray(small[:, :, ::-1]))
    background = ~foreground
    return {
        "Quality": _quality(gray),
        "DominantColors": dominant_colors(small.reshape(-1, 3), max_colors),
        "Foreground": {
            "Quality": _quality(gray, foreground),
            "DominantColors": dominant_colors(small[foreground], max_colors),
        },
        "Background": {
            "Quality": _quality(gray, background),
            "DominantColors": dominant_colors(small[background], max_colors),
        },
    }

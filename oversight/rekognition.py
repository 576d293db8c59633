"""Amazon Rekognition's own numbers and box shape, in one place: the operations, governance, the
CLI and the console import them, so a default or a limit cannot drift between them.

Defaults and limits are Rekognition's documented ones (API reference, "Guidelines and quotas").
Nothing here imports beyond the standard library: the CLI reads these at start-up.
"""

from __future__ import annotations

# The threshold a face search, comparison or user search applies when the request leaves it out
# (FaceMatchThreshold, SimilarityThreshold, UserMatchThreshold, stream processors' FaceSearch).
DEFAULT_MATCH_THRESHOLD = 80.0
# AssociateFaces' default UserMatchThreshold.
DEFAULT_ASSOCIATE_THRESHOLD = 75.0
# Faces an image answer describes at most (DetectFaces, CompareFaces, IndexFaces): the largest.
MAX_FACES_PER_IMAGE = 100
# MaxFaces of SearchFaces/SearchFacesByImage, and the largest page ListFaces/ListCollections give.
MAX_SEARCH_FACES = 4096
# The page a listing gives when the request sets no MaxResults (collections, faces, stream
# processors, stored-video results).
DEFAULT_PAGE_SIZE = 1000
# ListUsers' default page, and the faces one user may hold.
DEFAULT_USER_PAGE_SIZE = 50
MAX_FACES_PER_USER = 100

PixelBox = tuple[float, float, float, float]  # x, y, width, height in pixels


def bounding_box(box: PixelBox, width: int, height: int) -> dict[str, float]:
    """Rekognition's BoundingBox for a pixel box in a `width` x `height` image: each side as a
    ratio of the image's (Rekognition's member order)."""
    x, y, w, h = box
    return {"Width": w / width, "Height": h / height, "Left": x / width, "Top": y / height}

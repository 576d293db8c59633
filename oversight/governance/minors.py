"""Protective policy for minors: no 1:N search of a child's face.

A key's policy may set `min_probe_age`: a search whose probe face (SearchFacesByImage,
SearchUsersByImage) is estimated younger is refused with AccessDeniedException (rule
`minor_probe`, audited like every refusal), and a live stream processor started with that key
does not search faces estimated younger: they are tracked but never matched. The estimate is
the middle of the face's AgeRange, from an age model whose error on children is measured in
docs/ACCOUNTABILITY.md: set the age above 18 to catch more children at the cost of refusing
more young adults.
"""

from __future__ import annotations

from collections.abc import Callable

from ..analysis import DetectedFace
from ..images import DecodedImage
from ..operations.context import RequestContext
from ..operations.face_detail import face_detail
from .policy import PolicyRefusal, get_policy

RULE = "minor_probe"


def estimated_age(image: DecodedImage, face: DetectedFace) -> float:
    """The middle of the face's AgeRange, the point the screening compares."""
    age = face_detail(image, face, frozenset({"AgeRange"}))["AgeRange"]
    return (age["Low"] + age["High"]) / 2


def minimum_age(access_key_id: str | None) -> float | None:
    """The age below which the key's policy protects probe faces (None: it does not)."""
    policy = get_policy(access_key_id)
    return None if policy is None else policy.min_probe_age


def refuse_minor_probe(ctx: RequestContext, image: DecodedImage, face: DetectedFace) -> None:
    """Raise PolicyRefusal when the caller's policy protects faces as young as the probe."""
    least = minimum_age(ctx.access_key_id)
    if least is None:
        return
    age = estimated_age(image, face)
    if age < least:
        raise PolicyRefusal(
            RULE, f"the policy of access key {ctx.access_key_id} refuses 1:N searches of faces "
                  f"estimated younger than {least:g} years; this face is estimated at "
                  f"{age:.0f}")


def adult_filter(access_key_id: str | None) -> Callable[[DecodedImage, DetectedFace], bool] | None:
    """For a live search under this key: whether a face may be searched (None: every face)."""
    least = minimum_age(access_key_id)
    if least is None:
        return None
    return lambda image, face: estimated_age(image, face) >= least

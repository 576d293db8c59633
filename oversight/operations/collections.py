"""Collection and face operations: CreateCollection ... SearchFacesByImage.

Defaults and limits are Rekognition's (oversight/rekognition.py). FaceModelVersion names the
embedding model the collection was created with; a collection made with another model is refused
rather than searched with incomparable vectors.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

import numpy as np

from ..analysis import (
    EMBEDDING_MODEL,
    face_analyzer,
    face_model_version,
    requested_attributes,
)
from ..analysis.calibration import MATCHERS, Matcher
from ..analysis.calibrations import PACKAGED, active_calibration, calibration_file
from ..collections import (
    Box,
    Collection,
    NewFace,
    Requester,
    collection_service,
)
from ..collections.pagination import decode_token, encode_token
from ..errors import InvalidParameterException
from ..governance.minors import refuse_minor_probe
from ..rekognition import DEFAULT_MATCH_THRESHOLD, MAX_SEARCH_FACES
from . import RequestContext, matching, operation
from .face_matching import analyse_faces, face_api, searched_face
from .image_input import request_image
from .resources import (
    check_tags,
    collection_arn,
    page_size,
    requested_collection,
    searchable_collection,
)


def _face_matches(collection: Collection, vector: np.ndarray, request: dict[str, Any],
                  exclude_seq: int | None = None) -> list[dict[str, Any]]:
    return [
        {"Similarity": similarity, "Face": face_api(match.face)}
        for match, similarity in matching.search(
            collection, vector, request.get("MaxFaces", MAX_SEARCH_FACES),
            request.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD), exclude_seq)
    ]


# -- collections -----------------------------------------------------------------------------
@operation("CreateCollection")
def create_collection(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    tags = request.get("Tags") or {}
    check_tags(tags)
    collection = collection_service().create_collection(
        ctx.account_id, request["CollectionId"], EMBEDDING_MODEL, tags,
        matcher=_matcher(request.get("Matcher", "FUSED")),
    )
    return {
        "StatusCode": 200,
        "CollectionArn": collection_arn(collection),
        "FaceModelVersion": face_model_version(collection.face_model),
    }


@operation("DescribeCollection")
def describe_collection(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = requested_collection(request, ctx)
    face_count, user_count = collection_service().counts(collection)
    return {
        "FaceCount": face_count,
        "FaceModelVersion": face_model_version(collection.face_model),
        "CollectionARN": collection_arn(collection),
        "CreationTimestamp": collection.created_at,
        "UserCount": user_count,
        # Extension members (operations/extensions.json): the embedding behind the version,
        # the vector its searches compare and how that is calibrated.
        "EmbeddingModel": collection.face_model,
        "Matcher": collection.matcher.upper(),
        "MatcherCalibration": matcher_calibration(collection.matcher),
    }


def _matcher(name: str) -> Matcher:
    """The matcher a request names (the wire model's enum is FUSED | SFACE; in-process callers
    skip that validation, so it is checked again here)."""
    if name.lower() not in MATCHERS:
        raise InvalidParameterException(f"Matcher must be FUSED or SFACE, not {name!r}")
    return cast(Matcher, name.lower())


def matcher_calibration(matcher: str) -> dict[str, Any]:
    """The MatcherCalibration shape: the calibration in force for `matcher`."""
    calibration = active_calibration(cast(Matcher, matcher))
    return {
        "Method": calibration.method,
        "Source": "DEPLOYMENT" if calibration_file(cast(Matcher, matcher)).parent != PACKAGED
        else "PACKAGED",
        "Data": str(calibration.source.get("data", "")),
        "ImpostorPairs": int(calibration.source.get("impostor_pairs", 0)),
    }


@operation("UpdateCollectionMatcher")
def update_collection_matcher(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = requested_collection(request, ctx)
    matcher = _matcher(request["Matcher"])
    collection_service().store.set_matcher(collection, matcher)
    return {"Matcher": matcher.upper(), "PreviousMatcher": collection.matcher.upper(),
            "MatcherCalibration": matcher_calibration(matcher)}


@operation("ListCollections")
def list_collections(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    scope = ("collections", ctx.account_id)
    after = decode_token(scope, request.get("NextToken"))
    limit = page_size(request)
    found = collection_service().list_collections(ctx.account_id, after, limit + 1)
    page = found[:limit]
    response: dict[str, Any] = {
        "CollectionIds": [c.collection_id for c in page],
        "FaceModelVersions": [face_model_version(c.face_model) for c in page],
    }
    if len(found) > limit:
        response["NextToken"] = encode_token(scope, page[-1].pk)
    return response


@operation("DeleteCollection")
def delete_collection(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_service().delete_collection(
        ctx.account_id,
        request["CollectionId"],
        reason="DeleteCollection",
        by=Requester(ctx.access_key_id, ctx.request_id),
    )
    return {"StatusCode": 200}


# -- faces -----------------------------------------------------------------------------------
@operation("IndexFaces")
def index_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = searchable_collection(request, ctx)
    image = request_image(request)
    max_faces = request.get("MaxFaces")
    faces = analyse_faces(
        image,
        requested_attributes(request.get("DetectionAttributes")),
        request.get("QualityFilter", "AUTO"),
    )
    kept: list[tuple[Any, dict[str, Any]]] = []
    unindexed: list[dict[str, Any]] = []
    for face, detail, reasons in faces:  # largest first: MaxFaces keeps the largest
        if not reasons and max_faces is not None and len(kept) >= max_faces:
            reasons = ["EXCEEDS_MAX_FACES"]
        if reasons:
            unindexed.append({"Reasons": reasons, "FaceDetail": detail})
        else:
            kept.append((face, detail))
    image_id = str(uuid.uuid4())
    analyzer = face_analyzer()
    new_faces = [
        NewFace(
            embedding=analyzer.embed(image, face),
            box=Box(
                detail["BoundingBox"]["Left"],
                detail["BoundingBox"]["Top"],
                detail["BoundingBox"]["Width"],
                detail["BoundingBox"]["Height"],
            ),
            confidence=detail["Confidence"],
            image_id=image_id,
            external_image_id=request.get("ExternalImageId"),
        )
        for face, detail in kept
    ]
    stored = collection_service().add_faces(collection, new_faces)
    return {
        "FaceRecords": [
            {"Face": face_api(face), "FaceDetail": detail}
            for face, (_, detail) in zip(stored, kept, strict=True)
        ],
        "FaceModelVersion": face_model_version(collection.face_model),
        "UnindexedFaces": unindexed,
    }


@operation("ListFaces")
def list_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = requested_collection(request, ctx)
    if request.get("UserId") is not None:
        collection_service().require_user(collection, request["UserId"])
    # Bound to this collection (its uid: not one re-created under the same name) and filters.
    scope = ("faces", ctx.account_id, collection.uid, request.get("UserId") or "",
             *sorted(request.get("FaceIds") or []))
    after = decode_token(scope, request.get("NextToken"))
    limit = page_size(request)
    found = collection_service().list_faces(
        collection, after, limit + 1, request.get("UserId"), request.get("FaceIds")
    )
    page = found[:limit]
    response: dict[str, Any] = {
        "Faces": [face_api(face) for face in page],
        "FaceModelVersion": face_model_version(collection.face_model),
    }
    if len(found) > limit:
        response["NextToken"] = encode_token(scope, page[-1].seq)
    return response


@operation("DeleteFaces")
def delete_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    outcome = collection_service().delete_faces(
        ctx.account_id, request["CollectionId"], request["FaceIds"], reason="DeleteFaces",
        by=Requester(ctx.access_key_id, ctx.request_id),
    )
    unsuccessful = []
    for face_id, (user_id, reasons) in outcome.kept.items():
        entry: dict[str, Any] = {"FaceId": face_id, "Reasons": reasons}
        if user_id is not None:
            entry["UserId"] = user_id
        unsuccessful.append(entry)
    return {
        "DeletedFaces": [face.face_id for face in outcome.deleted],
        "UnsuccessfulFaceDeletions": unsuccessful,
    }


@operation("SearchFaces")
def search_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = searchable_collection(request, ctx)
    stored = collection_service().store.face_with_embedding(collection, request["FaceId"])
    if stored is None:
        raise InvalidParameterException(
            f"No face with FaceId {request['FaceId']} in the collection")
    face, vector = stored
    return {
        "SearchedFaceId": request["FaceId"],
        "FaceMatches": _face_matches(collection, vector, request, exclude_seq=face.seq),
        "FaceModelVersion": face_model_version(collection.face_model),
    }


@operation("SearchFacesByImage")
def search_faces_by_image(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = searchable_collection(request, ctx)
    image = request_image(request)
    face, detail, _ = searched_face(image, request.get("QualityFilter", "NONE"))
    refuse_minor_probe(ctx, image, face)
    vector = face_analyzer().embed(image, face)
    return {
        "SearchedFaceBoundingBox": detail["BoundingBox"],
        "SearchedFaceConfidence": detail["Confidence"],
        "FaceMatches": _face_matches(collection, vector, request),
        "FaceModelVersion": face_model_version(collection.face_model),
    }

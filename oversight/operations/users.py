"""User operations: a user is a named set of faces in a collection, searched as one identity.

A user's similarity to a probe is the best similarity of any of its faces. AssociateFaces admits
a face only if it matches the user's faces (or the faces admitted before it in the same call)
at UserMatchThreshold (default 75). The write operations honour ClientRequestToken: a retry
with the same token and parameters gets the first answer, other parameters get
IdempotentParameterMismatchException.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..analysis import (
    face_analyzer,
    face_model_version,
    requested_attributes,
)
from ..collections import Collection, collection_service
from ..collections.pagination import decode_token, encode_token
from ..collections.user_store import request_digest
from ..errors import InvalidParameterException, ServiceQuotaExceededException
from ..governance.minors import refuse_minor_probe
from ..rekognition import (
    DEFAULT_ASSOCIATE_THRESHOLD,
    DEFAULT_MATCH_THRESHOLD,
    DEFAULT_USER_PAGE_SIZE,
    MAX_FACES_PER_USER,
    MAX_SEARCH_FACES,
)
from . import RequestContext, matching, operation
from .face_matching import searched_face
from .image_input import request_image
from .resources import requested_collection, searchable_collection


def _idempotent(
    name: str,
    request: dict[str, Any],
    ctx: RequestContext,
    action: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    token = request.get("ClientRequestToken")
    if not token:
        return action()
    service = collection_service()
    digest = request_digest(request)
    earlier = service.remembered(ctx.account_id, name, token, digest)
    if earlier is not None:
        return earlier
    response = action()
    service.remember(ctx.account_id, name, token, digest, response)
    return response


def _status(face_count: int) -> str:
    return "ACTIVE" if face_count else "CREATED"


@operation("CreateUser")
def create_user(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        collection = requested_collection(request, ctx)
        collection_service().create_user(collection, request["UserId"])
        return {}

    return _idempotent("CreateUser", request, ctx, act)


@operation("DeleteUser")
def delete_user(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        collection = requested_collection(request, ctx)
        collection_service().delete_user(collection, request["UserId"])
        return {}

    return _idempotent("DeleteUser", request, ctx, act)


@operation("ListUsers")
def list_users(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = requested_collection(request, ctx)
    scope = ("users", ctx.account_id, collection.uid)
    after = decode_token(scope, request.get("NextToken"))
    limit = request.get("MaxResults") or DEFAULT_USER_PAGE_SIZE
    found = collection_service().list_users(collection, after, limit + 1)
    page = found[:limit]
    response: dict[str, Any] = {
        "Users": [{"UserId": user_id, "UserStatus": _status(n)} for _, user_id, n in page]
    }
    if len(found) > limit:
        response["NextToken"] = encode_token(scope, page[-1][0])
    return response


def _associate(collection: Collection, request: dict[str, Any]) -> dict[str, Any]:
    service = collection_service()
    user_id = request["UserId"]
    service.require_user(collection, user_id)
    threshold = request.get("UserMatchThreshold", DEFAULT_ASSOCIATE_THRESHOLD)
    existing_ids, existing = service.user_faces(collection, user_id)
    candidates = service.faces_for_association(collection, request["FaceIds"])
    references = list(existing)
    accepted: list[str] = []
    unsuccessful: list[dict[str, Any]] = []
    for face_id in dict.fromkeys(request["FaceIds"]):
        if face_id in existing_ids:
            accepted.append(face_id)
            continue
        if face_id not in candidates:
            unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            continue
        owner, vector = candidates[face_id]
        if owner is not None:
            unsuccessful.append(
                {"FaceId": face_id, "UserId": owner, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
            )
            continue
        if references:
            confidence = float(np.max(
                matching.compare(vector, np.vstack(references), collection.matcher)))
            if confidence < threshold:
                unsuccessful.append(
                    {
                        "FaceId": face_id,
                        "Confidence": confidence,
                        "Reasons": ["LOW_MATCH_CONFIDENCE"],
                    }
                )
                continue
        references.append(vector)
        accepted.append(face_id)
    new = [face_id for face_id in accepted if face_id not in existing_ids]
    if len(existing_ids) + len(new) > MAX_FACES_PER_USER:
        raise ServiceQuotaExceededException(f"A user can have at most {MAX_FACES_PER_USER} faces")
    changed = set(service.set_face_user(collection, new, user_id, expected=None))
    # A face taken by a concurrent call between our read and our update is not ours.
    lost = [face_id for face_id in new if face_id not in changed]
    unsuccessful += [
        {"FaceId": face_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]} for face_id in lost
    ]
    associated = [face_id for face_id in accepted if face_id not in lost]
    return {
        "AssociatedFaces": [{"FaceId": face_id} for face_id in associated],
        "UnsuccessfulFaceAssociations": unsuccessful,
        "UserStatus": _status(len(existing_ids) + len(associated)),
    }


@operation("AssociateFaces")
def associate_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return _idempotent(
        "AssociateFaces",
        request,
        ctx,
        lambda: _associate(requested_collection(request, ctx), request),
    )


def _disassociate(collection: Collection, request: dict[str, Any]) -> dict[str, Any]:
    service = collection_service()
    user_id = request["UserId"]
    service.require_user(collection, user_id)
    wanted = list(dict.fromkeys(request["FaceIds"]))
    owners = {
        fid: owner for fid, (owner, _) in service.faces_for_association(collection, wanted).items()
    }
    changed = set(service.set_face_user(collection, wanted, None, expected=user_id))
    unsuccessful = []
    for face_id in wanted:
        if face_id in changed:
            continue
        if face_id not in owners:
            unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
        else:
            entry: dict[str, Any] = {
                "FaceId": face_id,
                "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"],
            }
            if owners[face_id] is not None:
                entry["UserId"] = owners[face_id]
            unsuccessful.append(entry)
    remaining, _ = service.user_faces(collection, user_id)
    return {
        "DisassociatedFaces": [{"FaceId": face_id} for face_id in wanted if face_id in changed],
        "UnsuccessfulFaceDisassociations": unsuccessful,
        "UserStatus": _status(len(remaining)),
    }


@operation("DisassociateFaces")
def disassociate_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return _idempotent(
        "DisassociateFaces",
        request,
        ctx,
        lambda: _disassociate(requested_collection(request, ctx), request),
    )


def _user_matches(
    collection: Collection, vector: np.ndarray, request: dict[str, Any]
) -> list[dict[str, Any]]:
    """Users ranked by their best face's similarity to `vector`, above the threshold."""
    # Users are found through their faces: search wide enough that unassociated faces near the
    # probe do not crowd every user face out of the candidates.
    threshold = request.get("UserMatchThreshold", DEFAULT_MATCH_THRESHOLD)
    best: dict[str, float] = {}
    for match, similarity in matching.search(collection, vector, MAX_SEARCH_FACES, threshold):
        user_id = match.face.user_id
        if user_id is not None and similarity > best.get(user_id, -1.0):
            best[user_id] = similarity
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    return [
        {"Similarity": similarity, "User": {"UserId": user_id, "UserStatus": "ACTIVE"}}
        for user_id, similarity in ranked[: request.get("MaxUsers", DEFAULT_USER_PAGE_SIZE)]
    ]


@operation("SearchUsers")
def search_users(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = searchable_collection(request, ctx)
    service = collection_service()
    has_user, has_face = request.get("UserId") is not None, request.get("FaceId") is not None
    if has_user == has_face:
        raise InvalidParameterException("Specify exactly one of UserId or FaceId")
    response: dict[str, Any] = {"FaceModelVersion": face_model_version(collection.face_model)}
    if has_face:
        stored = service.face_with_embedding(collection, request["FaceId"])
        if stored is None:
            raise InvalidParameterException(f"No face with FaceId {request['FaceId']}")
        vectors = stored[1][None, :]
        response["SearchedFace"] = {"FaceId": request["FaceId"]}
    else:
        service.require_user(collection, request["UserId"])
        _, vectors = service.user_faces(collection, request["UserId"])
        if not len(vectors):
            raise InvalidParameterException(f"User {request['UserId']} has no faces")
        response["SearchedUser"] = {"UserId": request["UserId"]}
    # A user probe is its faces' mean direction: one query standing for the whole identity.
    probe = vectors.mean(axis=0)
    probe /= max(float(np.linalg.norm(probe)), 1e-12)
    matches = _user_matches(collection, probe, request)
    if has_user:
        matches = [m for m in matches if m["User"]["UserId"] != request["UserId"]]
    response["UserMatches"] = matches
    return response


@operation("SearchUsersByImage")
def search_users_by_image(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection = searchable_collection(request, ctx)
    image = request_image(request)
    face, detail, others = searched_face(
        image, request.get("QualityFilter", "NONE"), requested_attributes(None)
    )
    refuse_minor_probe(ctx, image, face)
    vector = face_analyzer().embed(image, face)
    return {
        "UserMatches": _user_matches(collection, vector, request),
        "FaceModelVersion": face_model_version(collection.face_model),
        "SearchedFace": {"FaceDetail": detail},
        "UnsearchedFaces": [
            {"FaceDetails": other, "Reasons": reasons} for other, reasons in others
        ],
    }

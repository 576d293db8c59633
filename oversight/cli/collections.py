"""`oversight collections ...`, `oversight index DIR` and `oversight search IMAGE`.

All run the same operation handlers the API serves, in-process on the local data directory and
through the governance gate (policy + audit) as the local operator; a running server sharing
that store sees the changes (its indexes reconcile by revision).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from ..errors import RekognitionError
from ..operations.context import RequestContext
from ..rekognition import DEFAULT_MATCH_THRESHOLD, MAX_SEARCH_FACES
from .output import governed_call, image_member, print_json

collections_app = typer.Typer(help="Face collections: create, inspect, list faces, delete.")

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_.\-:]")


def _pages(name: str, request: dict[str, Any], items: str) -> Iterator[Any]:
    """Every item of a paginated listing, following NextToken."""
    while True:
        response = governed_call(name, request)
        yield from response[items]
        if "NextToken" not in response:
            return
        request = {**request, "NextToken": response["NextToken"]}


def external_image_id(root: Path, path: Path) -> str:
    """ExternalImageId for a file: its path under the indexed folder, '/' as ':' (the API's
    pattern allows [a-zA-Z0-9_.-:]; anything else becomes '_')."""
    relative = path.relative_to(root).as_posix().replace("/", ":")
    return _NOT_ALLOWED.sub("_", relative)[:255]


@collections_app.command("create")
def create(collection: str) -> None:
    """Create a collection (CreateCollection)."""
    print_json(governed_call("CreateCollection", {"CollectionId": collection}))


@collections_app.command("describe")
def describe(collection: str) -> None:
    """Face and user counts, model and ARN (DescribeCollection)."""
    print_json(governed_call("DescribeCollection", {"CollectionId": collection}))


@collections_app.command("list")
def list_collections() -> None:
    """Every collection of the local account (ListCollections, all pages)."""
    print_json({"CollectionIds": list(_pages("ListCollections", {}, "CollectionIds"))})


@collections_app.command("delete")
def delete(collection: str) -> None:
    """Delete a collection with all its faces and users (DeleteCollection)."""
    print_json(governed_call("DeleteCollection", {"CollectionId": collection}))


@collections_app.command("faces")
def faces(
    collection: str, user: str = typer.Option(None, help="Only faces of this UserId.")
) -> None:
    """Every face in a collection (ListFaces, all pages)."""
    request: dict[str, Any] = {"CollectionId": collection}
    if user:
        request["UserId"] = user
    print_json({"Faces": list(_pages("ListFaces", request, "Faces"))})


@collections_app.command("check")
def check() -> None:
    """Load every collection's vector index and reconcile it with the store now: ghosts (in the
    index, not in the store) are removed and missing faces replayed. A server does this lazily at
    each collection's first search; run it after a crash to pay the cost up front."""
    from ..analysis import EMBEDDING_DIM, EMBEDDING_MODEL
    from ..collections import collection_service
    from ..governance import gate

    report = collection_service().check_indexes(EMBEDDING_MODEL, EMBEDDING_DIM)
    gate.audit_admin_event(
        RequestContext.local(),
        "CheckCollectionIndexes",
        "all collections",
        {"collections": len(report)},
    )
    print_json({"Collections": report})


@collections_app.command("delete-faces")
def delete_faces(collection: str, face_ids: list[str]) -> None:
    """Delete faces by FaceId (DeleteFaces)."""
    print_json(governed_call("DeleteFaces", {"CollectionId": collection, "FaceIds": face_ids}))


def index_directory(
    directory: Path, collection: str, max_faces: int, quality_filter: str
) -> dict[str, int]:
    """Index every JPEG/PNG under `directory`, skipping files already indexed (by
    ExternalImageId), so an interrupted run resumes where it stopped."""
    from ..api.calls import governed_call as call_or_raise

    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    )
    done = {
        face.get("ExternalImageId")
        for face in _pages("ListFaces", {"CollectionId": collection}, "Faces")
    }
    counts = {"files": len(files), "skipped": 0, "indexed_faces": 0, "no_face": 0, "failed": 0}
    for path in tqdm(files, desc=f"indexing into {collection}", unit="image"):
        external_id = external_image_id(directory, path)
        if external_id in done:
            counts["skipped"] += 1
            continue
        request = {
            "CollectionId": collection,
            "Image": image_member(path),
            "ExternalImageId": external_id,
            "MaxFaces": max_faces,
            "QualityFilter": quality_filter,
        }
        try:
            response = call_or_raise("IndexFaces", request)
        except RekognitionError as exc:
            tqdm.write(f"{path}: {exc.code}: {exc.message}")
            counts["failed"] += 1
            continue
        counts["indexed_faces"] += len(response["FaceRecords"])
        counts["no_face"] += not response["FaceRecords"]
    return counts


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")

    @app.command("index")
    def index(
        directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
        collection: str = typer.Option(..., "--collection", "-c"),
        max_faces: int = typer.Option(1, min=1, help="Faces to index per image (largest first)."),
        quality_filter: str = typer.Option("AUTO", help="NONE, AUTO, LOW, MEDIUM or HIGH"),
        create: bool = typer.Option(True, help="Create the collection if it does not exist."),
    ) -> None:
        """Index every JPEG/PNG under DIRECTORY; ExternalImageId is the file's relative path.

        Re-running skips files already in the collection, so an interrupted run resumes.
        """
        if create:
            existing = set(_pages("ListCollections", {}, "CollectionIds"))
            if collection not in existing:
                governed_call("CreateCollection", {"CollectionId": collection})
        print_json(index_directory(directory, collection, max_faces, quality_filter))

    @app.command("search")
    def search(
        image: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        collection: str = typer.Option(..., "--collection", "-c"),
        threshold: float = typer.Option(
            DEFAULT_MATCH_THRESHOLD, min=0.0, max=100.0, help="FaceMatchThreshold"
        ),
        max_faces: int = typer.Option(10, min=1, max=MAX_SEARCH_FACES),
    ) -> None:
        """Search a collection for the largest face in IMAGE (SearchFacesByImage)."""
        request = {
            "CollectionId": collection,
            "Image": image_member(image),
            "FaceMatchThreshold": threshold,
            "MaxFaces": max_faces,
        }
        print_json(governed_call("SearchFacesByImage", request))

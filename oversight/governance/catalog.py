"""The governance catalog: one row per served operation and Oversight extension.

A row says which resources a request reaches and how each is found (a request member, or stored
state: the collection a stream processor searches, the collection behind a video job id, the
resource behind a tag ARN, the account of every ARN), and so which policy clauses judge it.
`gate.governed` is driven by this table, and tests/test_governance_choke_point.py runs every row
against a policy that forbids it. An operation without a row is refused: nothing runs ungoverned.

Clauses (docs/ACCOUNTABILITY.md):
  operation    allowed_operations                      every row
  purpose      require_purpose                         every row
  rate_limit   rate_limit_per_minute                   every row
  collection   allowed_collections, on every collection the request reaches (or a list filtered)
  threshold    min_match_threshold, on every similarity threshold the answer reveals matches at
  max_faces    max_faces, on the member bounding how many matches come back
  stream_search allow_stream_search
  account      every ARN and S3 bucket belongs to the caller's account (and is mapped); this one
               holds whatever the policy says
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ResourceNotFoundException
from ..operations.arns import COLLECTION as COLLECTION_KIND
from ..operations.arns import parse_resource_arn
from ..operations.context import RequestContext
from ..rekognition import DEFAULT_ASSOCIATE_THRESHOLD, DEFAULT_MATCH_THRESHOLD
from ..review.cases import get_case
from ..store import get_engine
from ..video.jobs import JobStore
from ..video.processors import ProcessorStore

# RedactFaces (an Oversight extension) spares a face at Similarity 90 unless told otherwise.
DEFAULT_SPARE_THRESHOLD = 90.0
_ARN = re.compile(r"^arn:[^:]*:(?P<service>[^:]*):[^:]*:(?P<account>[^:]*):(?P<resource>.+)$")


def member(request: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = request
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def arn_account(arn: str) -> str | None:
    found = _ARN.match(arn)
    return found["account"] if found else None


@dataclass(frozen=True)
class Threshold:
    """A similarity threshold the answer reveals matches at."""

    member: str
    value: float
    stated: bool  # False: the default applies
    source: str  # "this request", "stream processor lobby", "job ..."


@dataclass(frozen=True)
class NamedArn:
    what: str  # "Kinesis video stream", "IAM role", ...
    arn: str
    mapped: bool  # must be mapped to a URL by the endpoint_map setting


@dataclass
class Reach:
    """Everything one request reaches, found from the request and from stored state."""

    collections: list[str] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    max_results: list[tuple[str, int | None]] = field(default_factory=list)
    live_search: bool = False
    arns: list[NamedArn] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)


class Resolver(Protocol):
    clauses: frozenset[str]

    def resolve(
        self, ctx: RequestContext, request: dict[str, Any], reach: Reach, source: str
    ) -> None: ...


# -- resolvers reading the request -------------------------------------------------------------
@dataclass(frozen=True)
class CollectionAt:
    path: tuple[str, ...]
    clauses: frozenset[str] = frozenset({"collection"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        value = member(request, self.path)
        if isinstance(value, str):
            reach.collections.append(value)


@dataclass(frozen=True)
class ThresholdAt:
    path: tuple[str, ...]
    default: float
    # Only when this member is present (a processor that searches, a redaction that spares).
    when: tuple[str, ...] | None = None
    clauses: frozenset[str] = frozenset({"threshold"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        if self.when is not None and member(request, self.when) is None:
            return
        asked = member(request, self.path)
        value = self.default if asked is None else float(asked)
        reach.thresholds.append(Threshold(self.path[-1], value, asked is not None, source))


@dataclass(frozen=True)
class MaxResultsAt:
    name: str
    when: tuple[str, ...] | None = None
    clauses: frozenset[str] = frozenset({"max_faces"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        if self.when is None or member(request, self.when) is not None:
            asked = request.get(self.name)
            reach.max_results.append((self.name, None if asked is None else int(asked)))


@dataclass(frozen=True)
class LiveSearchAt:
    path: tuple[str, ...]
    clauses: frozenset[str] = frozenset({"stream_search"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        if member(request, self.path) is not None:
            reach.live_search = True


@dataclass(frozen=True)
class ArnsAt:
    """ARNs the request names: (path, what, must be mapped by endpoint_map)."""

    paths: tuple[tuple[tuple[str, ...], str, bool], ...]
    clauses: frozenset[str] = frozenset({"account"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        for path, what, mapped in self.paths:
            value = member(request, path)
            if isinstance(value, str):
                reach.arns.append(NamedArn(what, value, mapped))


@dataclass(frozen=True)
class BucketAt:
    path: tuple[str, ...]
    clauses: frozenset[str] = frozenset({"account"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        value = member(request, self.path)
        if isinstance(value, str):
            reach.buckets.append(value)


# -- resolvers reading stored state ------------------------------------------------------------
COLLECTION = CollectionAt(("CollectionId",))
FACE_SEARCH = ("Settings", "FaceSearch")
# What a stream processor definition reaches (the request of CreateStreamProcessor, or the
# stored definition of a named processor).
STREAM_DEFINITION: tuple[Resolver, ...] = (
    CollectionAt((*FACE_SEARCH, "CollectionId")),
    ArnsAt((
        (("Input", "KinesisVideoStream", "Arn"), "Kinesis video stream", True),
        (("Output", "KinesisDataStream", "Arn"), "Kinesis data stream", True),
        (("NotificationChannel", "SNSTopicArn"), "SNS topic", True),
        (("RoleArn",), "IAM role", False),
    )),
    BucketAt(("Output", "S3Destination", "Bucket")),
)
# What a processor's matches reveal: its threshold, and that a live stream is searched.
STREAM_SEARCH: tuple[Resolver, ...] = (
    ThresholdAt((*FACE_SEARCH, "FaceMatchThreshold"), DEFAULT_MATCH_THRESHOLD, when=FACE_SEARCH),
    LiveSearchAt(FACE_SEARCH),
)
# A stored-video job's request: the collection a face search job searched and its threshold.
JOB_SEARCH: tuple[Resolver, ...] = (
    COLLECTION,
    ThresholdAt(("FaceMatchThreshold",), DEFAULT_MATCH_THRESHOLD, when=("CollectionId",)),
)


def _clauses(resolvers: tuple[Resolver, ...]) -> frozenset[str]:
    return frozenset().union(*(r.clauses for r in resolvers))


def _resolve_processor(ctx: RequestContext, name: Any, reach: Reach, reveals: bool) -> None:
    if not isinstance(name, str):
        return
    try:
        processor = ProcessorStore(get_engine()).get(ctx.account_id, name)
    except ResourceNotFoundException:
        return  # the handler answers that
    for resolver in STREAM_DEFINITION + (STREAM_SEARCH if reveals else ()):
        resolver.resolve(ctx, processor.definition, reach, f"stream processor {name}")


@dataclass(frozen=True)
class StoredProcessor:
    """The processor named by `member`: its collection and ARNs; with `reveals_matches`, also
    its threshold and live search (Start, and watching its events)."""

    member: str = "Name"
    reveals_matches: bool = False

    @property
    def clauses(self) -> frozenset[str]:  # type: ignore[override]
        return _clauses(STREAM_DEFINITION + (STREAM_SEARCH if self.reveals_matches else ()))

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        _resolve_processor(ctx, request.get(self.member), reach, self.reveals_matches)


@dataclass(frozen=True)
class StoredJob:
    """The stored-video job named by `member`: the collection it searched and its threshold."""

    member: str = "JobId"
    clauses: frozenset[str] = _clauses(JOB_SEARCH)

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        job_id = request.get(self.member)
        if not isinstance(job_id, str):
            return
        try:
            job = JobStore(get_engine()).get(ctx.account_id, job_id)
        except ResourceNotFoundException:
            return
        for resolver in JOB_SEARCH:
            resolver.resolve(ctx, job.request, reach, f"job {job_id}")


@dataclass(frozen=True)
class StoredCase:
    """The review case named by CaseId: the collection its withheld matches come from."""

    clauses: frozenset[str] = frozenset({"collection"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        case_id = request.get("CaseId")
        if not isinstance(case_id, str):
            return
        try:
            case = get_case(ctx.account_id, case_id)
        except ResourceNotFoundException:
            return  # the handler answers that
        if case.collection_id is not None:
            reach.collections.append(case.collection_id)


@dataclass(frozen=True)
class TaggedResource:
    """The resource behind a tag ARN: its account, and the collection it is or searches."""

    member: str = "ResourceArn"
    clauses: frozenset[str] = frozenset({"account", "collection"})

    def resolve(self, ctx: RequestContext, request: dict[str, Any], reach: Reach,
                source: str) -> None:
        arn = request.get(self.member)
        if not isinstance(arn, str):
            return
        reach.arns.append(NamedArn("resource", arn, False))
        try:
            kind, name = parse_resource_arn(arn, ctx.account_id)
        except ResourceNotFoundException:
            return  # another account's (refused by the gate) or none: the handler answers
        if kind == COLLECTION_KIND:
            reach.collections.append(name)
        else:
            _resolve_processor(ctx, name, reach, reveals=False)


# -- response filters --------------------------------------------------------------------------
# (ctx, allowed collections, response) -> the response without what the key may not see.
ResponseFilter = Callable[[RequestContext, list[str], dict[str, Any]], dict[str, Any]]


def allowed_collection_list(
    ctx: RequestContext, allowed: list[str], response: dict[str, Any]
) -> dict[str, Any]:
    """ListCollections: only the collections the key is allowed."""
    pairs = zip(response.get("CollectionIds", []), response.get("FaceModelVersions", []),
                strict=False)
    kept = [(c, v) for c, v in pairs if c in allowed]
    return {**response, "CollectionIds": [c for c, _ in kept],
            "FaceModelVersions": [v for _, v in kept]}


def allowed_case_list(
    ctx: RequestContext, allowed: list[str], response: dict[str, Any]
) -> dict[str, Any]:
    """ListReviewCases: only cases of collections the key is allowed."""
    return {**response, "ReviewCases": [
        c for c in response.get("ReviewCases", []) if c.get("CollectionId") in (None, *allowed)
    ]}


def allowed_processor_list(
    ctx: RequestContext, allowed: list[str], response: dict[str, Any]
) -> dict[str, Any]:
    """ListStreamProcessors: only processors searching a collection the key is allowed."""
    searched = {
        p.name: member(p.definition, (*FACE_SEARCH, "CollectionId"))
        for p in ProcessorStore(get_engine()).list(ctx.account_id)
    }
    return {**response, "StreamProcessors": [
        p for p in response.get("StreamProcessors", [])
        if searched.get(p.get("Name")) in (None, *allowed)
    ]}


# -- the table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    operation: str
    resolvers: tuple[Resolver, ...] = ()
    # Every outcome is audited (operations on faces); otherwise only refusals are.
    audited: bool = True
    # Changes stored state: an intent record is written before it runs (fail closed), and every
    # outcome is recorded.
    changes_state: bool = False
    response_filter: ResponseFilter | None = None
    # Extensions served outside AWS JSON 1.1 (Server-Sent Events, console pages): where.
    endpoint: str | None = None

    @property
    def recorded(self) -> bool:
        """Whether every outcome leaves an audit record (refusals always do)."""
        return self.audited or self.changes_state

    @property
    def clauses(self) -> frozenset[str]:
        every = frozenset({"operation", "purpose", "rate_limit"})
        filtered = frozenset({"collection"}) if self.response_filter else frozenset()
        return every | filtered | _clauses(self.resolvers)

    def reach(self, ctx: RequestContext, request: dict[str, Any]) -> Reach:
        found = Reach()
        for resolver in self.resolvers:
            resolver.resolve(ctx, request, found, "this request")
        return found


IMAGE = BucketAt(("Image", "S3Object", "Bucket"))
FACE_MATCH = ThresholdAt(("FaceMatchThreshold",), DEFAULT_MATCH_THRESHOLD)
USER_MATCH = ThresholdAt(("UserMatchThreshold",), DEFAULT_MATCH_THRESHOLD)
SPARE = ("SpareCollectionId",)
VIDEO_START: tuple[Resolver, ...] = (
    BucketAt(("Video", "S3Object", "Bucket")),
    ArnsAt((
        (("NotificationChannel", "SNSTopicArn"), "SNS topic", True),
        (("NotificationChannel", "RoleArn"), "IAM role", False),
    )),
)
VIDEO_JOBS = ("FaceDetection", "FaceSearch", "LabelDetection", "TextDetection",
              "ContentModeration", "SegmentDetection", "PersonTracking")
_FACE_VIDEO_JOBS = ("FaceDetection", "FaceSearch")
EVENTS_OPERATION = "GetStreamProcessorEvents"

ROWS: tuple[Row, ...] = (
    # Images
    Row("DetectFaces", (IMAGE,)),
    Row("CompareFaces", (
        ThresholdAt(("SimilarityThreshold",), DEFAULT_MATCH_THRESHOLD),
        BucketAt(("SourceImage", "S3Object", "Bucket")),
        BucketAt(("TargetImage", "S3Object", "Bucket")),
    )),
    Row("DetectLabels", (IMAGE,), audited=False),
    Row("DetectText", (IMAGE,), audited=False),
    Row("DetectModerationLabels", (IMAGE,), audited=False),
    # It reads faces (FACE_COVER): audited like DetectFaces.
    Row("DetectProtectiveEquipment", (IMAGE,)),
    Row("RedactFaces", (
        IMAGE,
        CollectionAt(SPARE),
        ThresholdAt(("SpareFaceMatchThreshold",), DEFAULT_SPARE_THRESHOLD, when=SPARE),
        MaxResultsAt("MaxSparedFaces", when=SPARE),
    )),
    # Collections and faces
    Row("CreateCollection", (COLLECTION,), changes_state=True),
    Row("DescribeCollection", (COLLECTION,)),
    Row("UpdateCollectionMatcher", (COLLECTION,), changes_state=True),
    Row("ListCollections", response_filter=allowed_collection_list),
    Row("DeleteCollection", (COLLECTION,), changes_state=True),
    Row("IndexFaces", (COLLECTION, IMAGE), changes_state=True),
    Row("ListFaces", (COLLECTION,)),
    Row("DeleteFaces", (COLLECTION,), changes_state=True),
    Row("SearchFaces", (COLLECTION, FACE_MATCH, MaxResultsAt("MaxFaces"))),
    Row("SearchFacesByImage", (COLLECTION, FACE_MATCH, MaxResultsAt("MaxFaces"), IMAGE)),
    Row("TagResource", (TaggedResource(),), audited=False, changes_state=True),
    Row("UntagResource", (TaggedResource(),), audited=False, changes_state=True),
    Row("ListTagsForResource", (TaggedResource(),), audited=False),
    # Users
    Row("CreateUser", (COLLECTION,), changes_state=True),
    Row("DeleteUser", (COLLECTION,), changes_state=True),
    Row("ListUsers", (COLLECTION,)),
    Row("AssociateFaces", (
        COLLECTION, ThresholdAt(("UserMatchThreshold",), DEFAULT_ASSOCIATE_THRESHOLD)),
        changes_state=True),
    Row("DisassociateFaces", (COLLECTION,), changes_state=True),
    Row("SearchUsers", (COLLECTION, USER_MATCH, MaxResultsAt("MaxUsers"))),
    Row("SearchUsersByImage", (COLLECTION, USER_MATCH, MaxResultsAt("MaxUsers"), IMAGE)),
    # Stored video
    *(Row(f"Start{job}", VIDEO_START + ((COLLECTION, FACE_MATCH) if job == "FaceSearch" else ()),
          audited=job in _FACE_VIDEO_JOBS, changes_state=True) for job in VIDEO_JOBS),
    *(Row(f"Get{job}", (StoredJob(),), audited=job in _FACE_VIDEO_JOBS) for job in VIDEO_JOBS),
    # Bulk moderation over an S3 manifest (no faces are compared or stored)
    Row("StartMediaAnalysisJob", (BucketAt(("Input", "S3Object", "Bucket")),
                                  BucketAt(("OutputConfig", "S3Bucket"))),
        audited=False, changes_state=True),
    Row("GetMediaAnalysisJob", audited=False),
    Row("ListMediaAnalysisJobs", audited=False),
    # Stream processors
    Row("CreateStreamProcessor", STREAM_DEFINITION + STREAM_SEARCH, changes_state=True),
    Row("DescribeStreamProcessor", (StoredProcessor(),)),
    Row("ListStreamProcessors", response_filter=allowed_processor_list),
    Row("StartStreamProcessor", (StoredProcessor(reveals_matches=True),), changes_state=True),
    Row("StopStreamProcessor", (StoredProcessor(),), changes_state=True),
    Row("UpdateStreamProcessor", (StoredProcessor(),), changes_state=True),
    Row("DeleteStreamProcessor", (StoredProcessor(),), changes_state=True),
    # Human review of matches (Oversight extensions)
    Row("GetReviewCase", (StoredCase(),)),
    Row("ListReviewCases", response_filter=allowed_case_list),
    Row("DecideReviewCase", (StoredCase(),), changes_state=True),
    # Oversight extensions served outside AWS JSON 1.1
    Row(EVENTS_OPERATION, (StoredProcessor(reveals_matches=True),),
        endpoint="GET /stream-processors/{Name}/events (SigV4) and "
                 "/console/stream-processors/{Name}/events: Server-Sent Events of its matches"),
    Row("ReadAuditLog", endpoint="/console and /console/accountability: the caller's "
                                 "account's recent audit records and head"),
    Row("VerifyAuditLog", endpoint="POST /console/accountability/verify: verify the chain"),
    Row("GetTransparencyReport", endpoint="/console/accountability/report: the transparency "
                                          "report of the caller's account"),
)

_BY_NAME = {row.operation: row for row in ROWS}
if len(_BY_NAME) != len(ROWS):
    raise RuntimeError("the governance catalog names an operation twice")


def row_for(operation: str) -> Row | None:
    return _BY_NAME.get(operation)


def governed_operations() -> list[str]:
    return sorted(_BY_NAME)


def extension_rows() -> list[Row]:
    """Governed operations served outside AWS JSON 1.1 (listed in docs/API.md)."""
    return [row for row in ROWS if row.endpoint is not None]


def audited(operation: str) -> bool:
    """Whether every outcome of `operation` is audited (not only its refusals)."""
    row = _BY_NAME.get(operation)
    return row is None or row.recorded


def state_changing_operations() -> list[str]:
    return [row.operation for row in ROWS if row.changes_state]

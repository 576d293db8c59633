"""Soak: at least 100,000 requests from concurrent clients against one live server.

    .venv/bin/python bench/soak.py [--requests 100000] [--clients 4] [--seed 1]

Starts `oversight serve` on a fresh data directory with two tenants (accounts A and B, one key
each; A holds a collection with real faces, users and tags) and sends a seeded mix:
- valid: listings, Describe*, user and collection create/delete, tags, DetectFaces and
  SearchFacesByImage on a tiny image, signed by A or B;
- mutated: signed bodies with members dropped, retyped or added, truncated or junk JSON;
  bodies changed after signing; unknown keys; unsigned requests; unknown operations;
- replayed: an earlier signed request sent again byte for byte;
- duplicated-header: a signed request with a second X-Amz-Target, purpose or Content-Type;
- cross-tenant: B naming A's collection ARN, A's pagination token, A's collection and faces.
The first 1% warms the server up (models loaded, caches filled); RSS is read before and after the
rest. At the end it checks what the issue asks: no 5xx but ThrottlingException, RSS growth,
`oversight audit verify`, every acknowledged request (a 200 of an audited operation) has its
`operation` record (and each acknowledged change its `intent`), no cross-tenant request succeeded,
and A's faces are all still there. Exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import multiprocessing
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the server launcher is shared with the tests

import httpx  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from PIL import Image  # noqa: E402

from oversight.governance.audit import AuditLog  # noqa: E402
from oversight.governance.catalog import audited, state_changing_operations  # noqa: E402
from tests.api_server import BIN, REGION, ApiServer, create_key, start_server, stop_server  # noqa: E402

FACES = ROOT.parent / "shared/data/faces/face-api.js/examples/images/bbt2.jpg"
PREFIX = "RekognitionService."
WARM_UP_SHARE = 0.01

Key = tuple[str, str]


@dataclass(frozen=True)
class World:
    """What setup made: the server, both tenants' keys and A's resources."""

    url: str
    key_a: Key
    key_b: Key
    collection_arn_a: str
    collection_arn_b: str
    face_ids_a: list[str]
    users_token_a: str
    tiny_png_b64: str


@dataclass
class Sent:
    """One prepared request: what goes on the wire and what the soak expects of it."""

    category: str
    operation: str
    body: bytes
    headers: list[tuple[str, str]]
    # Refused whatever happens (tampered, forged, repeated header, another tenant's resource).
    must_fail: bool = False


@dataclass
class Tally:
    statuses: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (request id, operation)

    def merge(self, other: Tally) -> None:
        self.statuses.update(other.statuses)
        self.server_errors += other.server_errors
        self.violations += other.violations
        self.acknowledged += other.acknowledged


def _sign(url: str, key: Key, operation: str, body: bytes,
          extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    request = AWSRequest(method="POST", url=f"{url}/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": PREFIX + operation,
        **(extra or {}),
    })
    SigV4Auth(Credentials(*key), "rekognition", REGION).add_auth(request)
    return list(request.headers.items())


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


# -- the request mix -------------------------------------------------------------------------
def _valid_request(
    rng: random.Random, world: World, worker: int, n: int, key: Key
) -> tuple[str, Any]:
    """A well-formed request of the caller's own tenant."""
    arn = world.collection_arn_a if key == world.key_a else world.collection_arn_b
    user = f"u{worker}-{n}"
    collection = f"tmp-{worker}-{n % 50}"
    choices: list[tuple[int, Callable[[], tuple[str, Any]]]] = [
        (12, lambda: ("ListCollections", {"MaxResults": rng.randint(1, 5)})),
        (10, lambda: ("DescribeCollection", {"CollectionId": "soak-a"})),
        (10, lambda: ("ListFaces", {"CollectionId": "soak-a", "MaxResults": 1})),
        (8, lambda: ("ListUsers", {"CollectionId": "soak-a"})),
        (8, lambda: ("CreateUser", {"CollectionId": "soak-a", "UserId": user})),
        (6, lambda: ("DeleteUser", {"CollectionId": "soak-a", "UserId": f"u{worker}-{n - 1}"})),
        (5, lambda: ("CreateCollection", {"CollectionId": collection})),
        (5, lambda: ("DeleteCollection", {"CollectionId": collection})),
        (5, lambda: ("TagResource", {"ResourceArn": arn, "Tags": {f"k{n % 7}": "v"}})),
        (4, lambda: ("UntagResource", {"ResourceArn": arn, "TagKeys": [f"k{n % 7}"]})),
        (5, lambda: ("ListTagsForResource", {"ResourceArn": arn})),
        (5, lambda: ("ListStreamProcessors", {})),
        (3, lambda: ("DetectFaces", {"Image": {"Bytes": world.tiny_png_b64}})),
        (2, lambda: ("SearchFacesByImage", {"CollectionId": "soak-a", "FaceMatchThreshold": 95,
                                            "Image": {"Bytes": world.tiny_png_b64}})),
    ]
    weights = [w for w, _ in choices]
    return rng.choices([make for _, make in choices], weights)[0]()


def _mutate(rng: random.Random, request: Any) -> bytes:
    body = dict(request)
    roll = rng.randrange(6)
    if roll == 0 and body:
        body.pop(rng.choice(sorted(body)))
    elif roll == 1 and body:
        body[rng.choice(sorted(body))] = rng.choice([None, -1, 2**70, "x" * 300, [], {}, 1.5e308])
    elif roll == 2:
        body[rng.choice(["Extra", "", "\u00e9", "CollectionId"])] = rng.choice([1, "a", [1]])
    elif roll == 3:
        return _json(body)[: rng.randrange(1, max(2, len(_json(body))))]
    elif roll == 4:
        return rng.randbytes(rng.randrange(1, 64))
    else:
        return rng.choice([b"", b"null", b"[]", b"{}", b'{"a":', b"\xff\xfe"])
    return _json(body)


def _prepare(rng: random.Random, world: World, worker: int, n: int,
             history: list[Sent]) -> Sent:
    roll = rng.random()
    key = world.key_a if rng.random() < 0.6 else world.key_b
    if roll < 0.45:
        operation, request = _valid_request(rng, world, worker, n, key)
        body = _json(request)
        return Sent("valid", operation, body, _sign(world.url, key, operation, body))
    if roll < 0.62:
        operation, request = _valid_request(rng, world, worker, n, key)
        body = _mutate(rng, request)
        return Sent("mutated", operation, body, _sign(world.url, key, operation, body))
    if roll < 0.72:
        return _forged(rng, world, worker, n)
    if roll < 0.80 and history:
        original = rng.choice(history)
        return Sent("replayed", original.operation, original.body, original.headers,
                    original.must_fail)
    if roll < 0.90:
        return _repeated_header(rng, world, worker, n)
    return _cross_tenant(rng, world)


# Forged requests come from an attacker's address (the server trusts X-Forwarded-For from a proxy
# on 127.0.0.1): the per-address failure throttle refuses them, not the tenants' valid traffic.
ATTACKER = ("X-Forwarded-For", "203.0.113.66")


def _forged(rng: random.Random, world: World, worker: int, n: int) -> Sent:
    sent = _forgery(rng, world, worker, n)
    return replace(sent, headers=[ATTACKER, *sent.headers])


def _forgery(rng: random.Random, world: World, worker: int, n: int) -> Sent:
    operation, request = _valid_request(rng, world, worker, n, world.key_a)
    body = _json(request)
    kind = rng.randrange(4)
    if kind == 0:  # body changed after signing
        headers = _sign(world.url, world.key_a, operation, body)
        return Sent("mutated", operation, body + b" ", headers, must_fail=True)
    if kind == 1:  # a key that does not exist
        stranger = ("AKIA" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=16)),
                    "x" * 40)
        return Sent("mutated", operation, body, _sign(world.url, stranger, operation, body),
                    must_fail=True)
    if kind == 2:  # unsigned
        headers = [("Content-Type", "application/x-amz-json-1.1"),
                   ("X-Amz-Target", PREFIX + operation)]
        return Sent("mutated", operation, body, headers, must_fail=True)
    headers = _sign(world.url, world.key_a, "StealFaces", body)  # an unknown operation
    return Sent("mutated", "StealFaces", body, headers, must_fail=True)


def _repeated_header(rng: random.Random, world: World, worker: int, n: int) -> Sent:
    """A captured signed request re-aimed by a prepended copy of a header it depends on."""
    body = _json({"CollectionId": "soak-a"})
    headers = _sign(world.url, world.key_a, "DescribeCollection", body,
                    {"X-Oversight-Purpose": "soak"})
    extra = rng.choice([("X-Amz-Target", PREFIX + "DeleteCollection"),
                        ("X-Oversight-Purpose", "FORGED"),
                        ("Content-Type", "application/json")])
    return Sent("duplicated-header", "DescribeCollection", body, [extra, *headers],
                must_fail=True)


def _cross_tenant(rng: random.Random, world: World) -> Sent:
    """B reaching for A's resources: each must be refused or find nothing of A's."""
    choices: list[tuple[str, Any]] = [
        ("DescribeCollection", {"CollectionId": "soak-a-only"}),
        ("ListUsers", {"CollectionId": "soak-a", "NextToken": world.users_token_a}),
        ("TagResource", {"ResourceArn": world.collection_arn_a, "Tags": {"owned": "by-b"}}),
        ("ListTagsForResource", {"ResourceArn": world.collection_arn_a}),
        ("DeleteFaces", {"CollectionId": "soak-a", "FaceIds": world.face_ids_a}),
        ("ListFaces", {"CollectionId": "soak-a", "FaceIds": world.face_ids_a}),
        ("SearchFaces", {"CollectionId": "soak-a", "FaceId": world.face_ids_a[0]}),
    ]
    operation, request = rng.choice(choices)
    body = _json(request)
    # DeleteFaces/ListFaces answer 200 on B's own "soak-a" but must touch none of A's faces.
    must_fail = operation not in ("DeleteFaces", "ListFaces")
    return Sent("cross-tenant", operation, body, _sign(world.url, world.key_b, operation, body),
                must_fail=must_fail)


# -- the clients -------------------------------------------------------------------------------
def _check(sent: Sent, status: int, answer: dict[str, Any], world: World, tally: Tally,
           request_id: str) -> None:
    code = str(answer.get("__type", "")) if status != 200 else ""
    tally.statuses[(sent.category, status, code)] += 1
    if status >= 500 and code != "ThrottlingException":
        tally.server_errors.append(f"{sent.category} {sent.operation} {status} {code} "
                                   f"{str(answer.get('Message', ''))[:120]}")
    if status == 200 and sent.must_fail:
        tally.violations.append(f"{sent.category} {sent.operation} answered 200")
    if status == 200 and sent.category == "cross-tenant":
        leaked = {f.get("FaceId") for f in answer.get("Faces", [])} & set(world.face_ids_a)
        if leaked or answer.get("DeletedFaces"):
            tally.violations.append(f"cross-tenant {sent.operation} reached A's faces")
    if status == 200 and audited(sent.operation):
        tally.acknowledged.append((request_id, sent.operation))


def _client(args: tuple[World, int, int, int]) -> Tally:
    world, worker, count, seed = args
    rng = random.Random(seed * 1000 + worker)
    tally = Tally()
    history: list[Sent] = []
    with httpx.Client(timeout=300) as http:
        for n in range(count):
            sent = _prepare(rng, world, worker, n, history)
            if sent.category == "valid" and len(history) < 64:
                history.append(sent)
            elif sent.category == "valid" and rng.random() < 0.05:
                history[rng.randrange(len(history))] = sent
            try:
                response = http.post(f"{world.url}/", content=sent.body, headers=sent.headers)
            except httpx.TransportError as error:
                # A refused repeated header may close the connection instead of answering.
                if sent.category != "duplicated-header":
                    tally.server_errors.append(f"{sent.category} {sent.operation}: {error!r}")
                tally.statuses[(sent.category, 0, type(error).__name__)] += 1
                continue
            try:
                answer = response.json() if response.content else {}
            except ValueError:
                answer = {"__type": "not JSON"}
            _check(sent, response.status_code, answer if isinstance(answer, dict) else {},
                   world, tally, response.headers.get("x-amzn-RequestId", ""))
    return tally


def _run_clients(world: World, clients: int, total: int, seed: int) -> Tally:
    share = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        tallies = pool.map(_client, [(world, i, share[i], seed) for i in range(clients)])
    merged = Tally()
    for tally in tallies:
        merged.merge(tally)
    return merged


# -- setup and checks --------------------------------------------------------------------------
def _call(url: str, key: Key, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    body = _json(request)
    response = httpx.post(f"{url}/", content=body, headers=_sign(url, key, operation, body),
                          timeout=300)
    answer = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"setup {operation} failed: {answer}")
    return answer


def _tiny_png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (120, 90, 60)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _setup(server: ApiServer) -> World:
    key_a = (server.access_key_id, server.secret_access_key)
    key_b = create_key(server)
    url = server.url
    for collection in ("soak-a", "soak-a-only"):
        _call(url, key_a, "CreateCollection", {"CollectionId": collection})
    _call(url, key_b, "CreateCollection", {"CollectionId": "soak-a"})
    image = base64.b64encode(FACES.read_bytes()).decode()
    indexed = _call(url, key_a, "IndexFaces", {"CollectionId": "soak-a",
                                               "Image": {"Bytes": image}, "MaxFaces": 3})
    face_ids = [r["Face"]["FaceId"] for r in indexed["FaceRecords"]]
    for user in ("alice", "bob"):
        _call(url, key_a, "CreateUser", {"CollectionId": "soak-a", "UserId": user})
    token = _call(url, key_a, "ListUsers", {"CollectionId": "soak-a", "MaxResults": 1})
    arns = [_call(url, key, "DescribeCollection", {"CollectionId": "soak-a"})["CollectionARN"]
            for key in (key_a, key_b)]
    return World(url, key_a, key_b, *arns, face_ids, token["NextToken"], _tiny_png())


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _unrecorded(data_dir: Path, acknowledged: list[tuple[str, str]]) -> list[str]:
    """Acknowledged requests without their ok operation record (or, for a change, intent)."""
    changes = set(state_changing_operations())
    done: set[str] = set()
    intended: set[str] = set()
    for record in AuditLog(data_dir / "audit").records():
        if record.get("kind") == "operation" and record.get("outcome") == "ok":
            done.add(record.get("request_id"))
        elif record.get("kind") == "intent":
            intended.add(record.get("request_id"))
    return [
        f"{operation} {request_id}" for request_id, operation in acknowledged
        if request_id not in done
        or (operation in changes and request_id not in intended)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, process = start_server(Path(tmp) / "oversight-data",
                                       {"OVERSIGHT_TRUSTED_PROXIES": "127.0.0.1"})
        try:
            world = _setup(server)
            rss_start = _rss_kb(process.pid)
            warm_up = max(args.clients, round(args.requests * WARM_UP_SHARE))
            tally = _run_clients(world, args.clients, warm_up, args.seed + 1)
            rss_before = _rss_kb(process.pid)
            started = time.perf_counter()
            tally.merge(_run_clients(world, args.clients, args.requests - warm_up, args.seed))
            seconds = time.perf_counter() - started
            rss_after = _rss_kb(process.pid)
            faces_left = _call(world.url, world.key_a, "ListFaces", {"CollectionId": "soak-a"})
        finally:
            stop_server(process)
        verify = subprocess.run([str(BIN / "oversight"), "audit", "verify"], env=server.env,
                                capture_output=True, text=True, timeout=3600)
        unrecorded = _unrecorded(server.data_dir, tally.acknowledged)
        records = sum(1 for _ in AuditLog(server.data_dir / "audit").lines())
    _report(args, tally, seconds, (rss_start, rss_before, rss_after), verify, unrecorded,
            records, sorted(f["FaceId"] for f in faces_left["Faces"]) == sorted(world.face_ids_a))


def _report(args: argparse.Namespace, tally: Tally, seconds: float, rss: tuple[int, int, int],
            verify: subprocess.CompletedProcess[str], unrecorded: list[str], records: int,
            faces_intact: bool) -> None:
    total = sum(tally.statuses.values())
    by_category: Counter[str] = Counter()
    for (category, _, _), count in tally.statuses.items():
        by_category[category] += count
    print(f"requests: {total} from {args.clients} clients (seed {args.seed}); "
          f"{args.requests - round(args.requests * WARM_UP_SHARE)} timed in {seconds:.0f} s "
          f"({(total - round(args.requests * WARM_UP_SHARE)) / seconds:.0f} req/s)")
    print("by category: " + ", ".join(f"{k} {v}" for k, v in sorted(by_category.items())))
    print(f"{'category':<18}{'status':>7}  {'code':<40}{'count':>8}")
    for (category, status, code), count in sorted(tally.statuses.items()):
        print(f"{category:<18}{status:>7}  {code or '-':<40}{count:>8}")
    growth = (rss[2] - rss[1]) / rss[1] * 100
    throttled = sum(c for (_, s, code), c in tally.statuses.items()
                    if s >= 500 and code == "ThrottlingException")
    checks = {
        "5xx (ThrottlingException aside)": (len(tally.server_errors), not tally.server_errors),
        "ThrottlingException 5xx": (throttled, True),
        "RSS MB start/before/after": (
            f"{rss[0] / 1024:.0f}/{rss[1] / 1024:.0f}/{rss[2] / 1024:.0f} "
            f"({growth:+.1f}% after warm-up)", growth < 10),
        "audit verify": (verify.stdout.replace("\n", " ")[:160], verify.returncode == 0),
        "audit records": (records, True),
        "acknowledged without record": (
            f"{len(unrecorded)} of {len(tally.acknowledged)}", not unrecorded),
        "cross-tenant/forged successes": (len(tally.violations), not tally.violations),
        "A's faces intact": (faces_intact, faces_intact),
    }
    for name, (value, ok) in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {value}")
    for problem in (tally.server_errors + tally.violations + unrecorded)[:20]:
        print("  ", problem)
    if not all(ok for _, ok in checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()

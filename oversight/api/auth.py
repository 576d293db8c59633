"""SigV4 verification: recompute the signature with botocore's signer, compare in constant time.

The request is rebuilt from exactly the headers the client says it signed, then handed to
botocore's SigV4Auth, so canonicalisation is the same code that produced the client's signature.
The credential scope must name one of the server's regions (the `region` setting and
`other_regions`), as AWS refuses a signature scoped to another region; the service must be
"rekognition".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from ..governance.purpose import HEADER as PURPOSE_HEADER
from .keys import KeyStore

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rekognition"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# What the server reads to dispatch, authenticate and audit a request: each may appear once.
_READ_HEADERS = frozenset(
    {
        "host",
        "authorization",
        "x-amz-date",
        "x-amz-target",
        "x-amz-content-sha256",
        "content-type",
        "content-length",
        PURPOSE_HEADER.lower(),
    }
)
# Headers that choose what runs or what is recorded: when present, the signature must cover them.
_MUST_BE_SIGNED = ("host", "x-amz-target", PURPOSE_HEADER.lower())


@dataclass(frozen=True)
class Principal:
    """Who signed the request."""

    access_key_id: str
    account_id: str


@dataclass(frozen=True)
class SignedRequest:
    """What SigV4 covers, as received."""

    method: str
    host: str
    raw_path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers as received (the ASGI list), by lower-case name, each with its one value.

    A header the server reads or the client signed may appear once: with two copies the
    signature could cover one while dispatch or the audit log reads the other, re-aiming a
    captured request (InvalidSignatureException). Repeats of other headers are joined with
    commas, as HTTP combines them.
    """
    values: dict[str, list[str]] = {}
    for name, value in raw:
        values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    single = set(_READ_HEADERS)
    authorization = values.get("authorization", [])
    if len(authorization) == 1:
        single.update(_signed_header_names(authorization[0]))
    repeated = sorted(name for name in single if len(values.get(name, ())) > 1)
    if repeated:
        raise InvalidSignatureException(
            f"The request repeats the {', '.join(repeated)} header"
            f"{'s' if len(repeated) > 1 else ''}: a signed request carries each once."
        )
    return {name: ",".join(found) for name, found in values.items()}


def _signed_header_names(header: str) -> list[str]:
    _, _, rest = header.strip().partition(" ")
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        if name == "SignedHeaders":
            return [h for h in value.lower().split(";") if h]
    return []


def _parse_authorization(header: str) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported authorization algorithm {algorithm!r}: use {ALGORITHM}."
        )
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in params]
    if missing:
        raise IncompleteSignatureException(
            "Authorization header requires " + ", ".join(f"'{m}'" for m in missing)
            + f" parameter{'s' if len(missing) > 1 else ''}. Authorization={header[:200]}"
        )
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise IncompleteSignatureException(
            "Credential must have the form <access key>/<date>/<region>/<service>/aws4_request."
        )
    return _Authorization(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=_signed_header_names(header),
        signature=params["Signature"],
    )


def _parse_amz_date(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError as exc:
        raise IncompleteSignatureException(
            f"X-Amz-Date {amz_date[:40]!r} is not in the form YYYYMMDD'T'HHMMSS'Z'."
        ) from exc


def _check_clock(amz_date: str, signed_at: datetime, now: datetime, max_skew: timedelta) -> None:
    minutes = int(max_skew.total_seconds() // 60)
    if signed_at < now - max_skew:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - max_skew).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - {minutes} min.)"
        )
    if signed_at > now + max_skew:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + max_skew).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + {minutes} min.)"
        )


def _expected_signature(request: SignedRequest, auth: _Authorization, secret: str) -> str:
    headers = {name: request.headers.get(name, "") for name in auth.signed_headers}
    query = f"?{request.query}" if request.query else ""
    url = f"http://{request.host}{request.raw_path}{query}"
    rebuilt = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    rebuilt.context["timestamp"] = request.headers["x-amz-date"]
    signer = SigV4Auth(Credentials(auth.access_key_id, secret), auth.service, auth.region)
    canonical = signer.canonical_request(rebuilt)
    return signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)


def authenticate(
    request: SignedRequest, keys: KeyStore, now: datetime, max_skew: timedelta,
    regions: Collection[str],
) -> Principal:
    """The principal that signed `request`, or the SigV4 error AWS would answer."""
    header = request.headers.get("authorization")
    if not header:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    auth = _parse_authorization(header)
    amz_date = request.headers.get("x-amz-date")
    if not amz_date:
        raise IncompleteSignatureException(
            "Authorization header requires existence of a 'X-Amz-Date' header."
        )
    signed_at = _parse_amz_date(amz_date)
    if auth.service != SERVICE:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{SERVICE}'."
        )
    if auth.region not in regions:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{auth.region[:40]}'."
        )
    if auth.date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.date[:16]}' != '{amz_date[:8]}'."
        )
    for name in _MUST_BE_SIGNED:
        if (name == "host" or name in request.headers) and name not in auth.signed_headers:
            shown = "-".join(part.capitalize() for part in name.split("-"))
            raise InvalidSignatureException(
                f"'{shown}' must be a 'SignedHeader' in the AWS Authorization."
            )
    # The body hash a client declares is trusted by the canonical request, so it must be true.
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise InvalidSignatureException("x-amz-content-sha256 does not match the request body.")
    found = keys.active_secret(auth.access_key_id)
    if found is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    key, secret = found
    expected = _expected_signature(request, auth, secret)
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    _check_clock(amz_date, signed_at, now, max_skew)
    return Principal(access_key_id=key.access_key_id, account_id=key.account_id)

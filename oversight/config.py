"""All configuration in one place: environment variables over an optional TOML file over defaults.

Every setting has a default that serves one machine with no external service. The TOML file is
`$OVERSIGHT_CONFIG` or `<data dir>/oversight.toml`; keys are the field names below. A key that
is not one, or a value of the wrong type, is a ConfigError naming it: a typo is never ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("oversight-data")
    host: str = "127.0.0.1"
    port: int = 8900
    # SQLAlchemy URL of the metadata store; empty means SQLite inside data_dir.
    database_url: str = ""
    # Where collections' vectors live: empty means faiss inside each process (indexes saved in
    # data_dir); "milvus://host:port" shares them through a Milvus server (cluster mode, needs a
    # PostgreSQL database_url; docs/DEPLOYMENT.md).
    vector_url: str = ""
    # Redis shared by a cluster's nodes ("redis://host:port/db"): per-key rate limits count there,
    # and stream processors' match events reach watchers on every node. Empty: this process.
    redis_url: str = ""
    # The server's region: resource ARNs carry it and SigV4 credential scopes must name it (or
    # one of `other_regions`, whitespace- or comma-separated), as AWS refuses another region's.
    region: str = "us-east-1"
    other_regions: str = ""
    # Threads each onnxruntime session may use, and how many requests run inference at once.
    inference_threads: int = field(default_factory=_default_threads)
    max_concurrent_inference: int = 2
    # Load every model when the server starts (in the background; GET /health says when it is
    # done), so the first request is as fast as the rest.
    warm_start: bool = True
    # HTTP body ceiling; each operation's own limit is lower (api/intake.py: CompareFaces, two
    # 5 MB images base64-encoded, 14.5 MB; an operation without images 512 KiB).
    max_request_bytes: int = 16 * 1024 * 1024
    # How long a request may wait for an inference slot before ThrottlingException.
    request_timeout_seconds: float = 120.0
    # Reading a request: its headers must arrive within header_timeout_seconds of its first byte
    # (or of the connection opening), its body within body_timeout_seconds of its headers; a
    # slower connection is closed (`oversight serve`'s uvicorn protocol, api/transport.py).
    header_timeout_seconds: float = 5.0
    body_timeout_seconds: float = 60.0
    # Bytes of bodies not yet authenticated, server-wide; beyond it: ThrottlingException.
    max_unauthenticated_bytes: int = 64 * 1024 * 1024
    # Failed authentications (bad signatures, unknown keys, wrong console secrets) one source
    # address may make in any 60 s; then all its attempts are ThrottlingException (0: no limit).
    auth_failures_per_minute: int = 30
    # Reverse proxies whose X-Forwarded-For names the client (IPs or CIDRs, separated by commas or
    # whitespace; "*" any). Empty: none, the client is the connection's peer; trusting a proxy
    # that is not there would let any local process pick the address that throttle counts and
    # the audit log records.
    trusted_proxies: str = ""
    # Reject requests whose SigV4 date differs from the server clock by more than this.
    max_clock_skew_seconds: int = 15 * 60
    # S3-compatible endpoint that Video.S3Object and Image.S3Object are read from (credentials
    # come from botocore's usual chain); empty: S3Object answers InvalidS3ObjectException.
    video_s3_endpoint_url: str = ""
    # Which account each bucket of that endpoint belongs to, as "BUCKET=ACCOUNT" pairs separated
    # by whitespace; a bucket not listed belongs to the local account 000000000000, so another
    # tenant reads only the buckets the operator gave it.
    s3_bucket_accounts: str = ""
    # Frames analysed per second of stored video, and stored-video jobs run at once.
    video_sample_fps: float = 3.0
    video_job_workers: int = 1
    # Faces are detected on frames scaled down to this longest side (boxes are mapped back and
    # embeddings use full-resolution pixels): the cost of detection grows with the pixel count.
    video_detect_max_side: int = 640
    # A video job or stream processor whose node has not renewed its lease for this long is
    # taken over (resumed) by another node; a dead process on the same host, at once.
    video_job_lease_seconds: float = 30.0
    # Where AWS resources that Oversight cannot host point to, as "ARN=URL" pairs separated by
    # whitespace: SNS topics (job notifications -> webhook), Kinesis video streams (stream
    # processor input -> rtsp://, http:// MJPEG or file://) and Kinesis data streams (match
    # events -> webhook).
    endpoint_map: str = ""
    # An open human-review case expires (its probe crop erased) after this many hours, or sooner
    # when its collection's retention is shorter.
    review_case_hours: float = 72.0
    # Server-Sent-Event streams of stream processor matches one access key may hold open at once
    # (ThrottlingException beyond); each stream re-checks its key and policy this often.
    max_event_streams_per_key: int = 8
    event_stream_recheck_seconds: float = 2.0

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region this server answers for, its own first."""
        others = self.other_regions.replace(",", " ").split()
        return (self.region, *(r for r in others if r != self.region))

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oversight.db').resolve()}"


_ENV_PREFIX = "OVERSIGHT_"
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               Path: "a path"}


class ConfigError(ValueError):
    """A setting that cannot be used; the message names where it came from and its value."""


def _coerce(raw: object, target: object, source: str) -> object:
    """`raw` (an environment string, or a typed TOML value) as the type of the field's default;
    ConfigError naming `source` and `raw` otherwise."""
    kind = type(target)
    value: object = None
    if kind is bool:
        value = raw if isinstance(raw, bool) else _BOOLEANS.get(str(raw).lower())
    elif isinstance(raw, str):
        with suppress(ValueError):
            value = kind(raw)  # type: ignore[call-arg]
    elif kind is float and type(raw) in (int, float):
        value = float(raw)  # type: ignore[arg-type]
    elif kind is int and type(raw) is int:
        value = raw
    if value is None:
        raise ConfigError(f"{source}: {raw!r} is not {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def _read_file(path: Path, named: bool) -> dict[str, object]:
    """The TOML file's settings; `named` when $OVERSIGHT_CONFIG names it (it must then exist),
    else it is the data directory's own `oversight.toml` (optional)."""
    if not path.is_file():
        if named:
            raise ConfigError(f"{_ENV_PREFIX}CONFIG: {str(path)!r} is not a file")
        return {}
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    if "data_dir" in values and not named:
        # Found inside the data directory, the file cannot say where that directory is.
        raise ConfigError(f"{path}: data_dir cannot be set in the data directory's own file; "
                          f"set {_ENV_PREFIX}DATA_DIR, or name this file with {_ENV_PREFIX}CONFIG")
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment over the TOML file over defaults; ConfigError names a
    value of the wrong type and a key the file should not have."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    named = f"{_ENV_PREFIX}CONFIG" in env
    data_dir = Path(env.get(f"{_ENV_PREFIX}DATA_DIR", str(defaults.data_dir)))
    path = Path(env[f"{_ENV_PREFIX}CONFIG"]) if named else data_dir / "oversight.toml"
    from_file = _read_file(path, named)
    values: dict[str, object] = {}
    for f in fields(Settings):
        variable = _ENV_PREFIX + f.name.upper()
        default = getattr(defaults, f.name)
        if variable in env:
            values[f.name] = _coerce(env[variable], default, variable)
        elif f.name in from_file:
            values[f.name] = _coerce(from_file[f.name], default, f"{path}: {f.name}")
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()

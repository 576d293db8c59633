"""All configuration in one place: environment variables over an optional TOML file over defaults.

Every setting has a default that serves one machine with no external service. The TOML file is
`$OVERSIGHT_CONFIG` or `<data dir>/oversight.toml`; keys are the field names below.
"""

from __future__ import annotations

import os
import tomllib
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
    # The server's region: resource ARNs carry it and SigV4 credential scopes must name it (or
    # one of `other_regions`, whitespace- or comma-separated), as AWS refuses another region's.
    region: str = "us-east-1"
    other_regions: str = ""
    # Threads each onnxruntime session may use, and how many requests run inference at once.
    inference_threads: int = field(default_factory=_default_threads)
    max_concurrent_inference: int = 2
    # HTTP body limit: CompareFaces may carry two 5 MB images, base64-encoded (4/3 larger).
    max_request_bytes: int = 16 * 1024 * 1024
    request_timeout_seconds: float = 120.0
    # Reject requests whose SigV4 date differs from the server clock by more than this.
    max_clock_skew_seconds: int = 15 * 60
    # S3-compatible endpoint that Video.S3Object and Image.S3Object are read from (credentials
    # come from botocore's usual chain); empty: S3Object answers InvalidS3ObjectException.
    video_s3_endpoint_url: str = ""
    # Frames analysed per second of stored video, and stored-video jobs run at once.
    video_sample_fps: float = 3.0
    video_job_workers: int = 1
    # Faces are detected on frames scaled down to this longest side (boxes are mapped back and
    # embeddings use full-resolution pixels): the cost of detection grows with the pixel count.
    video_detect_max_side: int = 640
    # A job whose worker has not reported for this long is taken over (resumed) by another.
    video_job_lease_seconds: float = 30.0
    # Where AWS resources that Oversight cannot host point to, as "ARN=URL" pairs separated by
    # whitespace: SNS topics (job notifications -> webhook), Kinesis video streams (stream
    # processor input -> rtsp://, http:// MJPEG or file://) and Kinesis data streams (match
    # events -> webhook).
    endpoint_map: str = ""

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


def _coerce(raw: str | int | float, target: object) -> object:
    if isinstance(target, bool):
        return str(raw).lower() in {"1", "true", "yes", "on"}
    if isinstance(target, int):
        return int(raw)
    if isinstance(target, float):
        return float(raw)
    if isinstance(target, Path):
        return Path(raw)
    return str(raw)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    defaults = Settings()
    data_dir = Path(env.get(f"{_ENV_PREFIX}DATA_DIR", str(defaults.data_dir)))
    config_path = Path(env.get(f"{_ENV_PREFIX}CONFIG", str(data_dir / "oversight.toml")))
    from_file: dict[str, object] = {}
    if config_path.is_file():
        from_file = tomllib.loads(config_path.read_text())
    values: dict[str, object] = {}
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        env_value = env.get(_ENV_PREFIX + f.name.upper())
        if env_value is not None:
            values[f.name] = _coerce(env_value, default)
        elif f.name in from_file:
            values[f.name] = _coerce(from_file[f.name], default)  # type: ignore[arg-type]
    values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()

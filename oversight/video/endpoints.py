"""Where the AWS resources a request names really are: the `endpoint_map` setting.

Oversight hosts no SNS, Kinesis Video Streams or Kinesis Data Streams; a request names them by
ARN as Rekognition's API requires, and the operator maps each ARN to a URL it stands for:
an SNS topic to a webhook, a Kinesis video stream to an rtsp://, http(s):// or file:// source,
a Kinesis data stream to a webhook that receives match events.
"""

from __future__ import annotations

import threading

from ..config import settings
from ..errors import InvalidParameterException

# Mappings the local operator adds at run time (the CLI's `--source`/`--webhook`); API clients
# cannot add any, so a request can never point the server at a URL the operator did not name.
_local: dict[str, str] = {}
_local_lock = threading.Lock()


def register_endpoint(arn: str, url: str) -> None:
    with _local_lock:
        _local[arn] = url


def endpoint_map(raw: str | None = None) -> dict[str, str]:
    """ARN -> URL pairs from "ARN=URL" entries separated by whitespace."""
    pairs: dict[str, str] = {}
    for entry in (settings().endpoint_map if raw is None else raw).split():
        arn, sep, url = entry.partition("=")
        if sep and arn and url:
            pairs[arn] = url
    return pairs


def endpoint_for(arn: str, what: str) -> str:
    """The URL configured for `arn`; InvalidParameterException naming the setting if none."""
    with _local_lock:
        url = _local.get(arn)
    url = url or endpoint_map().get(arn)
    if url is None:
        raise InvalidParameterException(
            f"{what} {arn} is not mapped to a URL on this server: add \"{arn}=URL\" to the "
            "endpoint_map setting (OVERSIGHT_ENDPOINT_MAP or oversight.toml)"
        )
    return url

"""Where the AWS resources a request names really are: the `endpoint_map` setting.

Oversight hosts no SNS, Kinesis Video Streams or Kinesis Data Streams; a request names them by
ARN as Rekognition's API requires, and the operator maps each ARN to a URL it stands for:
an SNS topic to a webhook, a Kinesis video stream to an rtsp://, http(s):// or file:// source,
a Kinesis data stream to a webhook that receives match events.
"""

from __future__ import annotations

from ..config import settings
from ..errors import InvalidParameterException


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
    url = endpoint_map().get(arn)
    if url is None:
        raise InvalidParameterException(
            f"{what} {arn} is not mapped to a URL on this server: add \"{arn}=URL\" to the "
            "endpoint_map setting (OVERSIGHT_ENDPOINT_MAP or oversight.toml)"
        )
    return url

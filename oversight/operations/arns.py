"""Rekognition ARNs of this server's resources (collections, stream processors).

An ARN is built with the server's region; one is read back only when it names the caller's
account, a region this server answers for and a kind of resource it has: anything else is a
resource that does not exist here, as another region's resource does not exist in AWS.
"""

from __future__ import annotations

import re

from ..config import settings
from ..errors import ResourceNotFoundException

COLLECTION, STREAM_PROCESSOR = "collection", "streamprocessor"
_ARN = re.compile(r"arn:aws:rekognition:(?P<region>[^:]+):(?P<account>[^:]+):"
                  r"(?P<kind>collection|streamprocessor)/(?P<name>.+)")


def resource_arn(kind: str, account_id: str, name: str) -> str:
    return f"arn:aws:rekognition:{settings().region}:{account_id}:{kind}/{name}"


def parse_resource_arn(arn: str, account_id: str) -> tuple[str, str]:
    """(kind, name) of the caller's resource `arn` names (ResourceNotFoundException if none)."""
    match = _ARN.fullmatch(arn)
    if (match is None or match["account"] != account_id
            or match["region"] not in settings().regions):
        raise ResourceNotFoundException(f"Resource {arn} not found")
    return match["kind"], match["name"]

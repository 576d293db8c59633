"""Rekognition's error vocabulary. Every failure a client can cause is one of these, and every
one of them is defined here.

The `code` is the `__type` a Rekognition client parses into its modelled exception class; the
HTTP status is the one AWS sends (4xx for the caller's fault, 5xx only for server-side trouble:
the service model's `fault` flag, which tests/test_errors.py checks every class against).
"""

from __future__ import annotations


class RekognitionError(Exception):
    code = "InternalServerError"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _ClientError(RekognitionError):
    status = 400


class InvalidParameterException(_ClientError):
    code = "InvalidParameterException"


class InvalidImageFormatException(_ClientError):
    code = "InvalidImageFormatException"


class ImageTooLargeException(_ClientError):
    code = "ImageTooLargeException"


class InvalidS3ObjectException(_ClientError):
    code = "InvalidS3ObjectException"


class InvalidManifestException(_ClientError):
    """A bulk job's manifest is empty or larger than the limit."""

    code = "InvalidManifestException"


class ResourceNotFoundException(_ClientError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(_ClientError):
    code = "ResourceAlreadyExistsException"


class ResourceInUseException(_ClientError):
    code = "ResourceInUseException"


class InvalidPaginationTokenException(_ClientError):
    code = "InvalidPaginationTokenException"


class IdempotentParameterMismatchException(_ClientError):
    code = "IdempotentParameterMismatchException"


class LimitExceededException(_ClientError):
    code = "LimitExceededException"


class ServiceQuotaExceededException(_ClientError):
    code = "ServiceQuotaExceededException"


class ConflictException(_ClientError):
    code = "ConflictException"


class VideoTooLargeException(_ClientError):
    code = "VideoTooLargeException"


class AccessDeniedException(_ClientError):
    code = "AccessDeniedException"


class CsrfRefused(AccessDeniedException):
    """A console form without its session's CSRF token: a web page's refusal, 403 as browsers
    and proxies expect (the console is not Rekognition's wire)."""

    status = 403


class ValidationException(_ClientError):
    """Protocol-level validation failure (AWS's generic code for a malformed request)."""

    code = "ValidationException"


class SerializationException(_ClientError):
    """The body, or a value in it, is not the JSON the model describes (AWS JSON protocol)."""

    code = "SerializationException"


class RequestTimeoutException(RekognitionError):
    """The request body did not arrive in time (AWS's front door answers 408)."""

    code = "RequestTimeoutException"
    status = 408


class UnknownOperationException(_ClientError):
    code = "UnknownOperationException"


class UnsupportedOperationException(_ClientError):
    """An operation or feature Rekognition has but Oversight does not provide (docs/API.md)."""

    code = "UnsupportedOperationException"


# Authentication failures, as AWS's front door answers them (most are 403).
class MissingAuthenticationTokenException(RekognitionError):
    code = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignatureException(RekognitionError):
    code = "IncompleteSignatureException"
    status = 400


class InvalidSignatureException(RekognitionError):
    code = "InvalidSignatureException"
    status = 403


class UnrecognizedClientException(RekognitionError):
    code = "UnrecognizedClientException"
    status = 403


class ThrottlingException(RekognitionError):
    code = "ThrottlingException"
    status = 500  # botocore retries ThrottlingException; AWS sends it as a server error


class InternalServerError(RekognitionError):
    code = "InternalServerError"
    status = 500

"""Turn storage exceptions (OS, fsspec, botocore, azure-core) into Ferry errors.

One translator serves every datastore type, so the same failure reads the same everywhere. It
recognises the third-party errors by their attributes and class names instead of importing them,
which keeps ``import ferry.datastore`` free of boto and azure.

Messages name the datastore and the path, never a credential: any credential value that appears in
a library's message is replaced by ``***`` before it is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ferry.errors import AuthError, FerryError, InvalidInputError, NotFoundError

__all__ = ["ErrorContext", "translate"]

# Error codes from S3 (botocore ClientError) and Azure Storage (HttpResponseError.error_code).
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "InvalidAuthenticationInfo",
    "NoAuthenticationInformation",
    "KeyBasedAuthenticationNotPermitted",
}
_NO_CONTAINER_CODES = {"NoSuchBucket", "ContainerNotFound"}
_AUTH_CLASSES = {"ClientAuthenticationError", "NoCredentialsError", "PartialCredentialsError"}
_UNREACHABLE_CLASSES = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ServiceRequestError",
    "ClientConnectorError",
    "ServerTimeoutError",
}


@dataclass(frozen=True)
class ErrorContext:
    """What a translated message may say about a datastore.

    Attributes:
        datastore: the datastore's name.
        container: ``"bucket 'b'"`` or ``"container 'c'"`` for object stores, else ``None``.
        credential_fields: the credential names to check, e.g. ``"access_key_id and
            secret_access_key"``.
        secrets: credential values to scrub from any library message.
    """

    datastore: str
    container: str | None = None
    credential_fields: str = "the credentials"
    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        """``text`` with every credential value replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 4:  # too-short values would blank out ordinary words
                text = text.replace(secret, "***")
        return text


def translate(exc: BaseException, action: str, path: str, ctx: ErrorContext) -> FerryError:
    """Build the Ferry error for ``exc``, raised while trying to ``action`` ``path``."""
    where = f"datastore '{ctx.datastore}'"
    shown = path or "/"
    details = {"datastore": ctx.datastore, "path": path}
    codes = {code for e in _chain(exc) if (code := _error_code(e))}
    classes = {type(e).__name__ for e in _chain(exc)}
    reason = ctx.redact(_reason(exc))
    if codes & _NO_CONTAINER_CODES:
        return NotFoundError(
            f"{where}: the {ctx.container or 'bucket or container'} does not exist; create it or "
            "fix the datastore's bucket/container_name",
            details=details,
        )
    if codes & _AUTH_CODES or classes & _AUTH_CLASSES or isinstance(exc, PermissionError):
        if ctx.container is None:
            return FerryError(
                f"{where}: permission denied to {action} '{shown}' ({reason}); check the "
                "permissions of the datastore's folder",
                details=details,
            )
        return AuthError(
            f"{where} rejected the credentials while trying to {action} '{shown}' ({reason}); "
            f"check {ctx.credential_fields} and update the datastore",
            details=details,
        )
    if classes & _UNREACHABLE_CLASSES:
        return FerryError(
            f"{where}: the storage endpoint cannot be reached ({reason}); check the endpoint and "
            "that the service is running",
            details=details,
        )
    if isinstance(exc, FileNotFoundError):
        return NotFoundError(
            f"{where} has no '{shown}'; check the path (it is relative to the datastore's root)",
            details=details,
        )
    if isinstance(exc, IsADirectoryError):
        return InvalidInputError(
            f"{where}: '{shown}' is a folder, not a file; pass a file path", details=details
        )
    if isinstance(exc, NotADirectoryError):
        return InvalidInputError(
            f"{where}: '{shown}' is a file, not a folder; pass a folder path", details=details
        )
    return FerryError(f"{where}: cannot {action} '{shown}' ({reason})", details=details)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)  # botocore ClientError
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    code = getattr(exc, "error_code", None)  # azure.core HttpResponseError (a str enum or str)
    code = getattr(code, "value", code)
    return str(code) if code else None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__

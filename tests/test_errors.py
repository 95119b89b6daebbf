"""One error table: every code has its status in ferry.errors, the gateway's codes included."""

from __future__ import annotations

import pytest

from ferry.errors import (
    HTTP_STATUS,
    ErrorCode,
    FerryError,
    GatewayError,
    NotFoundError,
    SpecError,
    StoreError,
    error_from_payload,
    gateway_error,
)


def test_every_code_has_a_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorCode)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("unauthorized", 401),
        ("endpoint_not_found", 404),
        ("deployment_not_found", 404),
        ("no_traffic", 404),
        ("not_found", 404),
        ("swagger_not_found", 404),
        ("request_timeout", 408),
        ("payload_too_large", 413),
        ("model_error", 424),
        ("too_many_requests", 429),
        ("swagger_invalid", 500),
        ("swagger_failed", 500),
        ("protocol", 500),
        ("not_ready", 503),
        ("replica_lost", 503),
    ],
)
def test_the_gateway_codes_keep_their_statuses(code: str, status: int) -> None:
    error = GatewayError(ErrorCode(code), "what happened; what to do")
    assert isinstance(error, FerryError)
    assert error.http_status == status
    # The body is what the gateway wrote before its errors joined the table, byte for byte.
    assert error.body() == (
        b'{"code": "' + code.encode() + b'", "message": "what happened; what to do", "details": {}}'
    )


def test_a_gateway_error_carries_its_headers_and_details() -> None:
    error = GatewayError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        "too big",
        headers=[(b"connection", b"close")],
        details={"limit": 10},
    )
    assert error.headers == [(b"connection", b"close")]
    assert error.to_payload() == {
        "code": "payload_too_large",
        "message": "too big",
        "details": {"limit": 10},
    }


def test_the_sdk_rebuilds_the_gateways_errors_with_their_code() -> None:
    error = gateway_error(408, "request_timeout", "did not answer", {"x": 1})
    assert (error.code, error.http_status, error.message) == (
        ErrorCode.REQUEST_TIMEOUT,
        408,
        "did not answer",
    )
    assert error.details == {"x": 1}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (502, "", ErrorCode.SERVER),  # a proxy's bad gateway: no code has 502
        (404, "", ErrorCode.NOT_FOUND),
        (429, "slow_down", ErrorCode.TOO_MANY_REQUESTS),  # a code Ferry does not know
        (500, "not_found", ErrorCode.STORE),  # a known code with another status
    ],
)
def test_an_answer_that_is_not_the_gateways_keeps_its_status(
    status: int, code: str, expected: ErrorCode
) -> None:
    error = gateway_error(status, code, "from a proxy", None)
    assert error.http_status == status
    assert error.code is expected
    assert error.details == {}


def test_control_plane_payloads_map_to_their_classes_and_gateway_codes_to_gateway_errors() -> None:
    spec = error_from_payload({"code": "invalid_spec", "message": "bad", "details": {}}, 422)
    assert type(spec) is SpecError
    missing = error_from_payload({"code": "no_such_code", "message": "gone"}, 404)
    assert type(missing) is NotFoundError
    unknown = error_from_payload({"code": "no_such_code", "message": "odd"}, 500)
    assert type(unknown) is StoreError
    # A deployment whose swagger file is broken fails at create with the gateway's code.
    swagger = error_from_payload(
        {"code": "swagger_invalid", "message": "swagger3.json ... is not valid JSON"}, 500
    )
    assert isinstance(swagger, GatewayError)
    assert (swagger.code, swagger.http_status) == (ErrorCode.SWAGGER_INVALID, 500)

"""The error hierarchy: each error's HTTP status and code, as the server will send them."""

from __future__ import annotations

import pytest

from edgekv import errors


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (errors.KeyTooLong, 414, None),
        (errors.ValueTooLarge, 413, None),
        (errors.MetadataTooLarge, 413, None),
        (errors.BulkResultTooLarge, 413, None),
        (errors.InvalidKey, 400, None),
        (errors.InvalidExpiration, 400, None),
        (errors.InvalidExpirationTtl, 400, None),
        (errors.InvalidCacheTtl, 400, None),
        (errors.InvalidListLimit, 400, None),
        (errors.InvalidBulkRequest, 400, None),
        (errors.InvalidType, 400, None),
        (errors.NotJSON, 400, None),
        (errors.DuplicateNamespaceTitle, 400, 10014),
        (errors.KeyNotFound, 404, 10009),
        (errors.NamespaceNotFound, 404, 10013),
        (errors.PreconditionFailed, 412, None),
        (errors.StoreUnavailable, 503, None),
    ],
)
def test_status_and_code(kind: type[errors.KVError], status: int, code: int | None) -> None:
    error = kind()
    assert error.status == status
    if code is not None:
        assert error.code == code
    assert error.envelope_error() == {"code": error.code, "message": error.message}
    assert isinstance(error, errors.KVError)


def test_codes_are_unique_per_meaning() -> None:
    # KeyNotFound shares NotFound's code on purpose (it is the same answer); others differ.
    kinds = [
        k for k in _all_errors() if k.__module__ == errors.__name__ and k is not errors.KeyNotFound
    ]
    codes = [k.code for k in kinds]
    assert len(codes) == len(set(codes)), sorted(codes)


def _all_errors() -> list[type[errors.KVError]]:
    out: list[type[errors.KVError]] = []
    todo: list[type[errors.KVError]] = [errors.KVError]
    while todo:
        kind = todo.pop()
        out.append(kind)
        todo += kind.__subclasses__()
    return out


def test_contract_messages() -> None:
    assert errors.NotJSON().message == (
        "At least one of the requested keys corresponds to a non-json value"
    )
    assert errors.NotFound().message == "get: 'key not found'"
    assert errors.NamespaceNotFound().message == "namespace not found"
    custom = errors.BadRequest("words")
    assert (custom.message, str(custom)) == ("words", "words")


def test_client_errors_are_value_errors_and_lookups_are_lookup_errors() -> None:
    assert isinstance(errors.KeyTooLong(), ValueError)
    assert isinstance(errors.InvalidType(), TypeError)
    assert isinstance(errors.NamespaceNotFound(), LookupError)

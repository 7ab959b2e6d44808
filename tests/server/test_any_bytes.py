"""Any bytes in any header, multipart part or JSON body: a 4xx (or a success), never a 5xx and
never a silent close. Property-based, over a live server and raw sockets, so that nothing a
client library would refuse to send is left untried; docs/errors.md lists the classes."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st

from .conftest import Live

SETTINGS = hypothesis.settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
HEADERS = [
    b"cf-kv-metadata",
    b"if-match",
    b"if-none-match",
    b"content-type",
    b"cache-control",
    b"x-edgekv-namespace",
    b"authorization",
    b"x-auth-key",
    b"x-auth-email",
]
PATHS = [
    b"/values/k",
    b"/keys",
    b"/bulk",
    b"/bulk/get",
    b"/bulk/delete",
    b"/incr/n",
    b"",
    b"/metadata/k",
]
header_value = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c not in (10, 13)))


def status_of(live: Live, request: bytes) -> int:
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        line = sock.makefile("rb").readline()
    assert line, "the server closed the connection without an answer"
    return int(line.split()[1])


def test_any_bytes_in_any_header(live: Live, token: str, ns: str) -> None:
    base = f"/client/v4/accounts/{live.account_id}/storage/kv/namespaces/{ns}".encode()

    @SETTINGS
    @hypothesis.given(
        st.sampled_from(HEADERS),
        header_value,
        st.sampled_from([b"GET", b"PUT", b"DELETE", b"POST", b"HEAD"]),
        st.sampled_from(PATHS),
        st.binary(max_size=60),
    )
    def check(name: bytes, value: bytes, method: bytes, path: bytes, body: bytes) -> None:
        headers = {
            b"host": b"x",
            b"authorization": b"Bearer " + token.encode(),
            b"content-length": str(len(body)).encode(),
            name: value,
        }
        head = b"".join(k + b": " + v + b"\r\n" for k, v in headers.items())
        request = (
            method + b" " + base + path + b" HTTP/1.1\r\n" + head + b"connection: close\r\n\r\n"
        )
        assert status_of(live, request + body) < 500

    check()


def test_any_multipart_body(live: Live, http: httpx.Client, ns: str) -> None:
    url = f"{live.namespaces_url()}/{ns}/values/multipart"
    part = st.tuples(
        st.sampled_from(
            [
                b"value",
                b"metadata",
                b"metadata[a]",
                b"metadata[a][b]",
                b"metadata[]",
                b"x",
                b"",
                b"\xff",
            ]
        ),
        st.binary(max_size=30),
        st.sampled_from([b"", b"Content-Type: application/json\r\n", b"Content-Type: \xff\r\n"]),
    )

    @SETTINGS
    @hypothesis.given(
        st.lists(part, max_size=5), st.sampled_from([b"B", b"\xff\xfe", b"a" * 70]), st.booleans()
    )
    def check(parts: list[tuple[bytes, bytes, bytes]], boundary: bytes, closed: bool) -> None:
        body = b"".join(
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="'
            + name
            + b'"\r\n'
            + extra
            + b"\r\n"
            + data
            + b"\r\n"
            for name, data, extra in parts
        )
        body += b"--" + boundary + b"--\r\n" if closed else b""
        content_type = b"multipart/form-data; boundary=" + boundary
        answer = http.put(url, content=body, headers=[(b"content-type", content_type)])
        assert answer.status_code < 500, answer.text

    check()


# Half of the leaves are the values that broke a server before (lone surrogates, numbers past
# every bound, digits of another script).
bad_leaves = st.sampled_from(
    ["\ud800", "\x00", 10**30, 2**53 + 1, 1e300, "1e999999", "²", "9" * 50]
)
leaves = bad_leaves | (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
FIELDS = ["key", "value", "base64", "expiration", "expiration_ttl", "metadata", "keys", "type"]
FIELDS += ["withMetadata", "cacheTtl", "by", "title", "id"]
anything = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)
    ),
    max_leaves=12,
)
# Bodies of the shapes the routes take, with bad leaves: what reaches past the shape checks.
shaped = (
    st.lists(
        st.fixed_dictionaries(
            {"key": leaves, "value": leaves},
            optional={f: anything for f in ("base64", "expiration", "expiration_ttl", "metadata")},
        ),
        max_size=3,
    )
    | st.fixed_dictionaries(
        {},
        optional={f: anything for f in ("keys", "type", "withMetadata", "cacheTtl", "by")},
    )
    | st.fixed_dictionaries({"title": leaves}, optional={"id": leaves})
)
json_values = anything | shaped


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/bulk"),
        ("POST", "/bulk/delete"),
        ("POST", "/bulk/get"),
        ("POST", "/incr/n"),
        ("PUT", ""),
        ("POST", ".."),
    ],
)
def test_any_json_body(live: Live, http: httpx.Client, ns: str, method: str, path: str) -> None:
    url = f"{live.namespaces_url()}/{ns}{path}" if path != ".." else live.namespaces_url()

    @SETTINGS
    @hypothesis.given(json_values)
    def check(value: Any) -> None:
        answer = http.request(method, url, content=json.dumps(value))
        assert answer.status_code < 500, answer.text

    check()

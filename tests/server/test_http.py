"""The REST API over raw HTTP: envelopes, keys in paths, bodies, limits and edgekv's additions."""

from __future__ import annotations

import base64
import json
import select
import socket
import time

import httpx
import pytest

from edgekv.limits import MAX_VALUE_BYTES

from .conftest import Live


def values(live: Live, ns: str, raw_key: str = "") -> str:
    return f"{live.namespaces_url()}/{ns}/values/{raw_key}"


def assert_error(answer: httpx.Response, status: int, code: int | None = None) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    assert isinstance(body["errors"][0]["message"], str)
    if code is not None:
        assert body["errors"][0]["code"] == code
    return body["errors"][0]  # type: ignore[no-any-return]


def test_envelope_and_value_roundtrip(live: Live, http: httpx.Client, ns: str) -> None:
    put = http.put(values(live, ns, "k"), content=b"\x00\xffbytes")
    assert put.json() == {"success": True, "errors": [], "messages": [], "result": {}}
    etag = put.headers["etag"]
    got = http.get(values(live, ns, "k"))
    assert got.status_code == 200 and got.content == b"\x00\xffbytes"
    assert got.headers["etag"] == etag and "expiration" not in got.headers
    assert "cf-kv-metadata" not in got.headers


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("a%2Fb%20c", "a/b c"),
        ("%F0%9F%98%80", "😀"),
        ("plus+sign", "plus+sign"),
        ("p%2525z", "p%25z"),
        ("bulk%2Fget", "bulk/get"),
        ("q%3Fx%3D1%23h", "q?x=1#h"),
    ],
)
def test_keys_are_percent_decoded_once(
    live: Live, http: httpx.Client, ns: str, raw: str, key: str
) -> None:
    assert http.put(values(live, ns, raw), content=b"v").status_code == 200
    listed = http.get(f"{live.namespaces_url()}/{ns}/keys").json()["result"]
    assert [k["name"] for k in listed] == [key]
    assert http.get(values(live, ns, raw)).content == b"v"
    assert http.delete(values(live, ns, raw)).json()["success"] is True
    assert_error(http.get(values(live, ns, raw)), 404, 10009)


@pytest.mark.parametrize("raw", ["%ZZ", "bad%", "%FF%FE"])
def test_malformed_percent_encoding_is_400(
    live: Live, http: httpx.Client, ns: str, raw: str
) -> None:
    assert_error(http.put(values(live, ns, raw), content=b"v"), 400)
    assert_error(http.get(values(live, ns, raw)), 400)


def test_missing_key_and_namespace(live: Live, http: httpx.Client, ns: str) -> None:
    error = assert_error(http.get(values(live, ns, "nope")), 404, 10009)
    assert error["message"] == "get: 'key not found'"
    assert http.delete(values(live, ns, "nope")).json()["success"] is True
    assert_error(http.get(f"{live.namespaces_url()}/{'0' * 32}/keys"), 404, 10013)
    assert_error(http.get(f"{live.api}/nothing/here"), 404, 7000)
    assert_error(http.patch(values(live, ns, "k")), 405, 7001)


def test_validation_errors_carry_the_contract_words(
    live: Live, http: httpx.Client, ns: str
) -> None:
    error = assert_error(http.put(values(live, ns, "k") + "?expiration_ttl=30", content=b"v"), 400)
    assert error["message"] == "Invalid expiration_ttl of 30. Expiration TTL must be at least 60."
    error = assert_error(http.put(values(live, ns, "x" * 513), content=b"v"), 414)
    assert error["message"] == "UTF-8 encoded length of 513 exceeds key length limit of 512."
    error = assert_error(http.put(values(live, ns, "%2E%2E"), content=b"v"), 400)
    assert error["message"] == '".." is not allowed as a key name.'
    meta = json.dumps({"m": "x" * 1100})
    error = assert_error(
        http.put(values(live, ns, "k"), files={"value": b"v"}, data={"metadata": meta}), 413
    )
    assert str(error["message"]).startswith("Metadata length of")


def test_expiration_header_and_metadata(live: Live, http: httpx.Client, ns: str) -> None:
    at = int(time.time()) + 3600
    http.put(
        values(live, ns, "k") + f"?expiration={at}",
        files={"value": ("upload", b"v", "application/octet-stream")},
        data={"metadata": json.dumps({"owner": "ann", "é": 1})},
    )
    got = http.get(values(live, ns, "k"))
    assert got.headers["expiration"] == str(at)
    assert json.loads(got.headers["cf-kv-metadata"]) == {"owner": "ann", "é": 1}
    meta = http.get(f"{live.namespaces_url()}/{ns}/metadata/k").json()
    assert meta["result"] == {"owner": "ann", "é": 1}
    listed = http.get(f"{live.namespaces_url()}/{ns}/keys").json()["result"]
    # Cloudflare's fields, as wrangler and the SDKs expect them...
    assert listed == [{"name": "k", "expiration": at, "metadata": {"owner": "ann", "é": 1}}]
    # ...and, asked for, edgekv's: the value's size and its last write.
    keys = f"{live.namespaces_url()}/{ns}/keys"
    listed = http.get(keys, params={"extensions": "true"}).json()["result"]
    written = int(got.headers["x-edgekv-written-at"])
    assert abs(written - time.time()) < 60
    assert listed == [
        {
            "name": "k",
            "expiration": at,
            "metadata": {"owner": "ann", "é": 1},
            "size": 1,
            "written_at": written,
        }
    ]
    usage = http.get(f"{live.namespaces_url()}/{ns}/usage").json()["result"]
    assert usage == {"keys": 1, "bytes": 1}


def test_multipart_forms(live: Live, http: httpx.Client, ns: str) -> None:
    # wrangler: a text part without filename; binary files; the SDK's flattened metadata.
    http.put(values(live, ns, "text"), files={"value": (None, "héllo")}, data={"metadata": "5"})
    assert http.get(values(live, ns, "text")).content == "héllo".encode()
    assert http.get(f"{live.namespaces_url()}/{ns}/metadata/text").json()["result"] == 5
    blob = bytes(range(256)) * 5000
    http.put(values(live, ns, "bin"), files={"value": ("blob", blob, "application/octet-stream")})
    assert http.get(values(live, ns, "bin")).content == blob
    http.put(
        values(live, ns, "flat"),
        files={"value": b"v"},
        data={"metadata[owner]": "ann", "metadata[deep][x]": "1"},
    )
    meta = http.get(f"{live.namespaces_url()}/{ns}/metadata/flat").json()["result"]
    assert meta == {"owner": "ann", "deep": {"x": "1"}}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=XX", b"--XX\r\nno headers end"),
        ("multipart/form-data", b"--XX\r\n"),
        (
            "multipart/form-data; boundary=XX",
            b'--XX\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{}\r\n--XX--\r\n',
        ),
        (
            "multipart/form-data; boundary=XX",
            b'--XX\r\nContent-Disposition: form-data; name="value"\r\n\r\nv\r\n--XX\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{bad\r\n--XX--\r\n',
        ),
    ],
)
def test_malformed_multipart_is_400(
    live: Live, http: httpx.Client, ns: str, content_type: str, body: bytes
) -> None:
    answer = http.put(values(live, ns, "k"), content=body, headers={"content-type": content_type})
    assert_error(answer, 400)


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("", "POST", b'{"title":'),
        ("", "POST", b"[1]"),
        ("/{ns}", "PUT", b"\xff\xfe"),
        ("/{ns}/bulk", "PUT", b"{not json"),
        ("/{ns}/bulk", "PUT", b'{"key":"k"}'),
        ("/{ns}/bulk", "DELETE", b'"k"'),
        ("/{ns}/bulk/delete", "POST", b"[1,2"),
        ("/{ns}/bulk/get", "POST", b"nope"),
        ("/{ns}/incr/c", "POST", b'{"by":'),
        ("/{ns}/incr/c", "POST", b'{"by":"x"}'),
    ],
)
def test_malformed_json_is_400(
    live: Live, http: httpx.Client, ns: str, path: str, method: str, body: bytes
) -> None:
    url = live.namespaces_url() + path.format(ns=ns)
    assert_error(http.request(method, url, content=body), 400)


def test_namespace_pages_past_the_end_are_empty(live: Live, http: httpx.Client) -> None:
    account = live.new_account("paging")
    with live.client(live.token(account)) as client:
        for i in range(5):
            client.post(live.namespaces_url(account), json={"title": f"n{i}"})
        seen, page = [], 1
        while True:
            answer = client.get(live.namespaces_url(account), params={"per_page": 2, "page": page})
            result = answer.json()["result"]
            if not result:
                break
            seen += [n["title"] for n in result]
            assert answer.json()["result_info"]["total_count"] == 5
            page += 1
        assert seen == [f"n{i}" for i in range(5)] or sorted(seen) == [f"n{i}" for i in range(5)]
        assert page == 4
        by_title = client.get(
            live.namespaces_url(account),
            params={"per_page": 1000, "order": "title", "direction": "desc"},
        ).json()["result"]
        assert [n["title"] for n in by_title] == [f"n{i}" for i in reversed(range(5))]
        assert_error(client.get(live.namespaces_url(account), params={"order": "size"}), 400)


def test_key_list_pages_end_with_an_empty_cursor(live: Live, http: httpx.Client, ns: str) -> None:
    pairs = [{"key": f"k{i:02}", "value": "v"} for i in range(25)]
    assert http.put(f"{live.namespaces_url()}/{ns}/bulk", json=pairs).json()["result"] == {
        "successful_key_count": 25,
        "unsuccessful_keys": [],
    }
    names, cursor = [], None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        answer = http.get(f"{live.namespaces_url()}/{ns}/keys", params=params).json()
        names += [k["name"] for k in answer["result"]]
        cursor = answer["result_info"]["cursor"]
        assert answer["result_info"]["count"] == len(answer["result"])
        if cursor == "":
            break
    assert names == [f"k{i:02}" for i in range(25)]
    prefixed = http.get(f"{live.namespaces_url()}/{ns}/keys", params={"prefix": "k1"}).json()
    assert len(prefixed["result"]) == 10 and prefixed["result_info"]["cursor"] == ""
    assert_error(http.get(f"{live.namespaces_url()}/{ns}/keys", params={"limit": 1001}), 400)


def test_both_bulk_delete_forms(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    http.put(f"{base}/bulk", json=[{"key": k, "value": "v"} for k in "abcd"])
    assert http.post(f"{base}/bulk/delete", json=["a", "b", "nope"]).json()["result"] == {
        "successful_key_count": 3,
        "unsuccessful_keys": [],
    }
    assert http.request("DELETE", f"{base}/bulk", json=["c"]).json()["success"] is True
    assert [k["name"] for k in http.get(f"{base}/keys").json()["result"]] == ["d"]


def test_bulk_get_forms(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    http.put(
        f"{base}/bulk",
        json=[
            {"key": "t", "value": "text", "metadata": {"m": 1}},
            {"key": "j", "value": '{"a":1}'},
            {"key": "b", "value": base64.b64encode(b"\x00\xff").decode(), "base64": True},
        ],
    )
    got = http.post(f"{base}/bulk/get", json={"keys": ["t", "nope"]}).json()["result"]
    assert got == {"values": {"t": "text", "nope": None}}
    got = http.post(f"{base}/bulk/get", json={"keys": ["j"], "type": "json"}).json()["result"]
    assert got == {"values": {"j": {"a": 1}}}
    got = http.post(f"{base}/bulk/get", json={"keys": ["t"], "withMetadata": True}).json()
    assert got["result"] == {"values": {"t": {"value": "text", "metadata": {"m": 1}}}}
    raw = http.post(
        f"{base}/bulk/get", json={"keys": ["b", "t", "nope"], "type": "arrayBuffer"}
    ).json()["result"]["values"]
    assert base64.b64decode(raw["b"]) == b"\x00\xff" and raw["nope"] is None
    detailed = http.post(
        f"{base}/bulk/get", json={"keys": ["t"], "type": "arrayBuffer", "withMetadata": True}
    ).json()["result"]["values"]["t"]
    assert base64.b64decode(detailed["value"]) == b"text" and detailed["metadata"] == {"m": 1}
    assert isinstance(detailed["version"], int)
    error = assert_error(http.post(f"{base}/bulk/get", json={"keys": ["t"], "type": "blob"}), 400)
    assert error["message"] == '"blob" is not a valid type. Use "json" or "text"'
    error = assert_error(
        http.post(f"{base}/bulk/get", json={"keys": [str(i) for i in range(101)]}), 400
    )
    assert error["message"] == "You can request a maximum of 100 keys"
    error = assert_error(http.post(f"{base}/bulk/get", json={"keys": ["t"], "type": "json"}), 400)
    assert error["message"] == "At least one of the requested keys corresponds to a non-json value"


def test_conditional_puts(live: Live, http: httpx.Client, ns: str) -> None:
    first = http.put(values(live, ns, "c"), content=b"1", headers={"If-None-Match": "*"})
    assert first.status_code == 200
    again = http.put(values(live, ns, "c"), content=b"2", headers={"If-None-Match": "*"})
    assert_error(again, 412, 10101)
    etag = first.headers["etag"]
    ok = http.put(values(live, ns, "c"), content=b"3", headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    assert_error(
        http.put(values(live, ns, "c"), content=b"4", headers={"If-Match": etag}), 412, 10101
    )
    assert_error(http.put(values(live, ns, "c"), content=b"4", headers={"If-Match": '"x"'}), 412)
    got = http.get(values(live, ns, "c"), headers={"Cache-Control": "no-cache"})
    assert got.content == b"3" and got.headers["etag"] == ok.headers["etag"]


def test_incr(live: Live, http: httpx.Client, ns: str) -> None:
    url = f"{live.namespaces_url()}/{ns}/incr/n"
    assert http.post(url).json()["result"] == {"value": 1}
    assert http.post(url, json={"by": 41}).json()["result"] == {"value": 42}
    assert http.post(url, json={"by": -2, "expiration_ttl": 120}).json()["result"] == {"value": 40}
    assert http.get(values(live, ns, "n")).content == b"40"
    assert "expiration" in http.get(values(live, ns, "n")).headers
    http.put(values(live, ns, "s"), content=b"text")
    assert_error(http.post(f"{live.namespaces_url()}/{ns}/incr/s"), 400)
    assert_error(http.post(url, json={"by": 1.5}), 400)


def test_raw_put_with_metadata_header(live: Live, http: httpx.Client, ns: str) -> None:
    http.put(values(live, ns, "h"), content=b"v", headers={"CF-KV-Metadata": '{"a":[1,2]}'})
    assert http.get(f"{live.namespaces_url()}/{ns}/metadata/h").json()["result"] == {"a": [1, 2]}
    assert_error(
        http.put(values(live, ns, "h"), content=b"v", headers={"CF-KV-Metadata": "{"}), 400
    )


def test_large_value_streams(live: Live, http: httpx.Client, ns: str) -> None:
    value = bytes(range(256)) * (3 * 4096)  # 3 MiB: spooled on the way in, streamed out
    http.put(
        values(live, ns, "big"),
        content=iter([value[i : i + 65536] for i in range(0, len(value), 65536)]),
    )
    got = http.get(values(live, ns, "big"))
    assert got.content == value


def _chunked_put(live: Live, token: str, path: str, total: int) -> tuple[bytes, int]:
    """Sends a chunked body of up to `total` bytes by hand, watching for an early answer.

    Returns the answer and how many bytes had been sent when it arrived.
    """
    sock = socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])))
    sock.settimeout(30)
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    sock.sendall(head)
    chunk = b"x" * (1 << 20)
    sent = 0
    try:
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:
        pass  # the server answered and closed before the body ended
    answer = b""
    try:
        while not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except OSError:
        pass
    sock.close()
    return answer, sent


def test_oversize_value_is_refused_while_streaming(live: Live, token: str, ns: str) -> None:
    path = values(live, ns, "huge").removeprefix(live.url)
    answer, sent = _chunked_put(live, token, path, 200 << 20)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"exceeds limit of 26214400" in answer
    # Answered while the body was still coming: the 200 MiB were never taken in first.
    assert sent < 100 << 20


def test_oversize_declared_length_is_refused_at_once(live: Live, token: str, ns: str) -> None:
    path = values(live, ns, "k").removeprefix(live.url)
    with socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1]))) as sock:
        sock.settimeout(30)
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {MAX_VALUE_BYTES + 1}\r\n\r\n".encode()
            + b"x" * 1024
        )
        # The answer comes although almost none of the declared body was sent.
        answer = b""
        while not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["errors"][0]["message"] == (
        f"Value length of {MAX_VALUE_BYTES + 1} exceeds limit of 26214400."
    )


def test_healthz_and_openapi(live: Live) -> None:
    with httpx.Client() as client:
        assert client.get(f"{live.url}/healthz").json()["result"] == {
            "status": "ok",
            "checks": {"central_store": "ok"},
        }
        doc = client.get(f"{live.url}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert (
        "/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/get"
        in doc["paths"]
    )

"""Bad input of every class gets a 4xx in the contract's words, and nothing is written.

Over a live server (uvicorn, as `edgekv serve` runs it): integers of any size and sign, JSON
of any depth in bodies, headers and multipart parts, booleans that are not JSON booleans,
multipart parts that would be dropped, cursors and titles that are not what they claim, and
405s that must name the methods served. docs/errors.md keeps the table of these classes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from edgekv.json_in import MAX_JSON_DEPTH
from edgekv.limits import MAX_EXPIRATION, MAX_EXPIRATION_TTL

from .conftest import Live

HUGE = "1" + "0" * 30
DEEP = "[" * 100_000 + "]" * 100_000


def refused(answer: httpx.Response, status: int, code: int, message: str) -> None:
    """A failure envelope with this status, code and message (`message` may be a prefix)."""
    assert answer.status_code == status, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == code, answer.text
    assert error["message"].startswith(message), answer.text
    assert answer.headers["x-request-id"]


def values(live: Live, ns: str) -> str:
    return f"{live.namespaces_url()}/{ns}/values"


def keys_of(live: Live, http: httpx.Client, ns: str) -> list[str]:
    answer = http.get(f"{live.namespaces_url()}/{ns}/keys")
    assert answer.status_code == 200, answer.text
    return [k["name"] for k in answer.json()["result"]]


# integers of any size and sign


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            f"expiration={HUGE}",
            10027,
            f"Invalid expiration of {HUGE}. Expiration times must be at most 9007199254740991",
        ),
        (
            f"expiration=-{HUGE}",
            10027,
            f"Invalid expiration of -{HUGE}. Please specify integer greater than",
        ),
        (
            f"expiration={2**53 + 1}",
            10027,
            f"Invalid expiration of {2**53 + 1}. Expiration times must be at most",
        ),
        (f"expiration={'9' * 5000}", 10027, "Invalid expiration of 999"),
        (
            "expiration=1e999999",
            10027,
            "Invalid expiration of 1e999999. Expiration times must be at most",
        ),
        (
            f"expiration_ttl={HUGE}",
            10028,
            f"Invalid expiration_ttl of {HUGE}. Expiration TTL must be at most {MAX_EXPIRATION_TTL}.",
        ),
        (
            f"expiration_ttl=-{HUGE}",
            10028,
            f"Invalid expiration_ttl of -{HUGE}. Please specify integer greater than 0.",
        ),
        (f"expiration_ttl={MAX_EXPIRATION_TTL + 1}", 10028, "Invalid expiration_ttl of"),
    ],
)
def test_integers_of_any_size_in_a_value_write(
    live: Live, http: httpx.Client, ns: str, query: str, code: int, message: str
) -> None:
    refused(http.put(f"{values(live, ns)}/k?{query}", content=b"v"), 400, code, message)
    assert keys_of(live, http, ns) == []


def test_the_largest_expirations_are_kept_exactly(live: Live, http: httpx.Client, ns: str) -> None:
    answer = http.put(f"{values(live, ns)}/far?expiration={MAX_EXPIRATION}", content=b"v")
    assert answer.status_code == 200, answer.text
    listed = http.get(f"{live.namespaces_url()}/{ns}/keys").json()["result"]
    assert listed == [{"name": "far", "expiration": MAX_EXPIRATION}]
    answer = http.put(f"{values(live, ns)}/ttl?expiration_ttl={MAX_EXPIRATION_TTL}", content=b"v")
    assert answer.status_code == 200, answer.text


def test_integers_of_any_size_in_bodies(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    refused(
        http.put(f"{base}/bulk", json=[{"key": "a", "value": "b", "expiration": 10**30}]),
        400,
        10027,
        f"item 0: Invalid expiration of {10**30}. Expiration times must be at most",
    )
    refused(
        http.put(f"{base}/bulk", json=[{"key": "a", "value": "b", "expiration_ttl": -(10**30)}]),
        400,
        10028,
        "item 0: Invalid expiration_ttl of",
    )
    refused(
        http.put(f"{base}/bulk", json=[{"key": "a", "value": "b", "expiration": 2.0**60}]),
        400,
        10027,
        "item 0: Invalid expiration of",
    )
    refused(
        http.post(f"{base}/incr/n", json={"by": 2**63}), 400, 10012, "by must be a 64-bit integer"
    )
    refused(http.post(f"{base}/incr/n", json={"by": -(2**63) - 1}), 400, 10012, "by must be")
    refused(
        http.post(f"{base}/incr/n", json={"expiration": 10**30}), 400, 10027, "Invalid expiration"
    )
    refused(
        http.post(f"{base}/incr/n", json={"expiration_ttl": 10**30}),
        400,
        10028,
        "Invalid expiration_ttl",
    )
    refused(
        http.post(f"{base}/bulk/get", json={"keys": ["a"], "cacheTtl": -(10**30)}),
        400,
        10029,
        "Invalid cache_ttl",
    )
    # A number of more digits than Python converts is malformed JSON, not a crash.
    refused(
        http.post(f"{base}/incr/n", content='{"by": ' + "9" * 5000 + "}"),
        400,
        10036,
        "Malformed JSON",
    )
    assert keys_of(live, http, ns) == []


def test_integers_of_any_size_in_queries(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    for limit in (HUGE, f"-{HUGE}", "9" * 5000, "1e999999", "nan"):
        refused(http.get(f"{base}/keys?limit={limit}"), 400, 10030, "Invalid key_count_limit of")
    refused(
        http.get(f"{base}/keys?limit=1001"),
        400,
        10030,
        "Invalid key_count_limit of 1001. Please specify an integer less than or equal to 1000.",
    )
    assert http.get(f"{base}/keys?limit=1000").status_code == 200
    for page in (HUGE, "-1", "9" * 5000):
        refused(
            http.get(f"{live.namespaces_url()}?per_page={page}"), 400, 10012, "Invalid per_page"
        )
        refused(http.get(f"{live.namespaces_url()}?page={page}"), 400, 10012, "Invalid page")
    refused(http.get(f"{values(live, ns)}/k?cache_ttl=-{HUGE}"), 400, 10029, "Invalid cache_ttl")
    feed = f"{live.api}/accounts/{live.account_id}/storage/kv/changes"
    refused(http.get(f"{feed}?limit={HUGE}"), 400, 10012, f"Invalid limit of {HUGE}")


def test_if_match_of_any_size_cannot_hold(live: Live, http: httpx.Client, ns: str) -> None:
    for version in (HUGE, str(2**63), "9" * 5000, "-1", "1e3"):
        answer = http.put(f"{values(live, ns)}/k", content=b"v", headers={"If-Match": version})
        refused(answer, 412, 10101, "precondition failed")
    assert keys_of(live, http, ns) == []


# JSON of any depth


def test_deep_json_bodies_are_400(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    deep_message = f"Malformed JSON in the request body: JSON nested more than {MAX_JSON_DEPTH}"
    refused(http.put(f"{base}/bulk", content=DEEP), 400, 10036, deep_message)
    refused(http.post(live.namespaces_url(), content=DEEP), 400, 10036, deep_message)
    refused(http.post(f"{base}/bulk/get", content=DEEP), 400, 10036, deep_message)
    refused(http.post(f"{base}/incr/n", content=DEEP), 400, 10036, deep_message)
    # Nested past the bound but within what the parser could take: refused the same way.
    just_past = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    refused(http.put(f"{base}/bulk", content=just_past), 400, 10036, deep_message)
    pair = '[{"key": "a", "value": "b", "metadata": ' + DEEP + "}]"
    refused(http.put(f"{base}/bulk", content=pair), 400, 10036, deep_message)
    assert keys_of(live, http, ns) == []


def test_deep_json_in_metadata_is_400(live: Live, http: httpx.Client, ns: str) -> None:
    message = f"Metadata must be valid JSON: JSON nested more than {MAX_JSON_DEPTH} levels deep."
    header = {"CF-KV-Metadata": "[" * 5000 + "]" * 5000}
    refused(http.put(f"{values(live, ns)}/k", content=b"v", headers=header), 400, 10026, message)
    form = {"value": (None, b"v"), "metadata": (None, DEEP.encode())}
    refused(http.put(f"{values(live, ns)}/k", files=form), 400, 10026, message)
    assert keys_of(live, http, ns) == []
    # The deepest metadata that fits in 1024 bytes is kept.
    deepest = "[" * 512 + "]" * 512
    answer = http.put(f"{values(live, ns)}/k", content=b"v", headers={"CF-KV-Metadata": deepest})
    assert answer.status_code == 200, answer.text
    assert http.get(f"{live.namespaces_url()}/{ns}/metadata/k").json()["result"] is not None


def test_a_stored_value_too_deep_to_read_as_json_is_400(
    live: Live, http: httpx.Client, ns: str
) -> None:
    assert http.put(f"{values(live, ns)}/deep", content=DEEP.encode()).status_code == 200
    answer = http.post(
        f"{live.namespaces_url()}/{ns}/bulk/get", json={"keys": ["deep"], "type": "json"}
    )
    refused(
        answer,
        400,
        10034,
        f"A requested value is JSON nested more than {MAX_JSON_DEPTH} levels deep.",
    )


# booleans are JSON booleans


@pytest.mark.parametrize("given", ["no", "yes", 1, 0, None, "true"])
def test_booleans_are_json_booleans(live: Live, http: httpx.Client, ns: str, given: Any) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    shown = json.dumps(given)
    answer = http.put(f"{base}/bulk", json=[{"key": "a", "value": "bm8=", "base64": given}])
    refused(answer, 400, 10032, f"item 0: base64 must be true or false, not {shown}.")
    answer = http.post(f"{base}/bulk/get", json={"keys": ["a"], "withMetadata": given})
    refused(answer, 400, 10032, f"withMetadata must be true or false, not {shown}.")
    assert keys_of(live, http, ns) == []


def test_extensions_is_true_or_false(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}/keys"
    refused(
        http.get(f"{base}?extensions=yes"),
        400,
        10012,
        'Invalid extensions of yes. Use "false" or "true".',
    )
    assert http.get(f"{base}?extensions=false").status_code == 200


# every multipart part used or refused


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            [("metadata", b'{"a":1}'), ("metadata[b]", b"2")],
            'The multipart body has both a "metadata" part',
        ),
        (
            [("metadata[b]", b"2"), ("metadata", b'{"a":1}')],
            'The multipart body has both a "metadata" part',
        ),
        (
            [("metadata", b'{"a":1}'), ("metadata", b'{"b":1}')],
            'The multipart body has more than one "metadata" part.',
        ),
        (
            [("metadata[a]", b"1"), ("metadata[a]", b"2")],
            "Conflicting multipart metadata field 'metadata[a]'.",
        ),
        ([("metadata[a]", b"1"), ("metadata[a][b]", b"2")], "Conflicting multipart metadata field"),
        ([("metadata[]", b"1")], "Malformed multipart metadata field 'metadata[]'."),
        ([("junk", b"x")], "Unexpected multipart part 'junk'"),
        ([("", b"x")], "Unexpected multipart part ''"),
        ([("value", b"again")], 'The multipart body has more than one "value" part.'),
        ([("metadata", b"\xff\xfe")], "The multipart part 'metadata' is not UTF-8 text."),
    ],
)
def test_every_multipart_part_is_used_or_refused(
    live: Live, http: httpx.Client, ns: str, parts: list[tuple[str, bytes]], message: str
) -> None:
    files = [("value", (None, b"v")), *[(name, (None, data)) for name, data in parts]]
    refused(http.put(f"{values(live, ns)}/m", files=files), 400, 10036, message)
    assert keys_of(live, http, ns) == []


def test_malformed_multipart_metadata_is_400(live: Live, http: httpx.Client, ns: str) -> None:
    files = {"value": (None, b"v"), "metadata": (None, b"{bad")}
    refused(
        http.put(f"{values(live, ns)}/m", files=files), 400, 10026, "Metadata must be valid JSON."
    )
    # Metadata in a header of a multipart write would be dropped: refused.
    answer = http.put(
        f"{values(live, ns)}/m",
        files={"value": (None, b"v")},
        headers={"CF-KV-Metadata": '{"a":1}'},
    )
    refused(answer, 400, 10036, 'A multipart value write carries its metadata in a "metadata" part')
    assert keys_of(live, http, ns) == []


# lone surrogates in JSON text


def test_lone_surrogates_in_bulk_bodies(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}"
    # A value: stored as a Worker's TextEncoder writes it, U+FFFD.
    answer = http.put(f"{base}/bulk", content=b'[{"key": "a", "value": "x\\ud800"}]')
    assert answer.status_code == 200, answer.text
    assert http.get(f"{values(live, ns)}/a").content == "x\ufffd".encode()
    message = "item 0: Key must be valid UTF-8 (no lone surrogates)."
    refused(
        http.put(f"{base}/bulk", content=b'[{"key": "\\ud800", "value": "x"}]'), 400, 10022, message
    )
    refused(http.post(f"{base}/bulk/delete", content=b'["\\ud800"]'), 400, 10022, message)
    answer = http.post(f"{base}/bulk/get", content=b'{"keys": ["\\ud800"]}')
    refused(answer, 400, 10022, "Key must be valid UTF-8 (no lone surrogates).")


def test_metadata_holding_a_lone_surrogate_is_answered_everywhere(
    live: Live, http: httpx.Client, ns: str
) -> None:
    """Kept as the escape JSON.stringify writes (docs/contract.md, section 7), and answered
    with ASCII escapes wherever UTF-8 cannot carry it: the key list, bulk reads, metadata
    reads, the workerd protocol."""
    base = f"{live.namespaces_url()}/{ns}"
    pair = b'[{"key": "s", "value": "v", "metadata": {"m": "\\ud800"}}]'
    assert http.put(f"{base}/bulk", content=pair).status_code == 200
    assert http.get(f"{base}/keys").json()["result"] == [{"name": "s", "metadata": {"m": "\ud800"}}]
    assert http.get(f"{base}/metadata/s").json()["result"] == {"m": "\ud800"}
    answer = http.post(f"{base}/bulk/get", json={"keys": ["s"], "withMetadata": True})
    assert answer.json()["result"]["values"]["s"]["metadata"] == {"m": "\ud800"}
    assert http.get(f"{values(live, ns)}/s").headers["cf-kv-metadata"] == '{"m":"\\ud800"}'
    binding = {"X-EdgeKV-Namespace": ns}
    assert http.get(f"{live.url}/s", headers=binding).status_code == 200
    assert http.get(f"{live.url}/", headers=binding).status_code == 200
    answer = http.post(
        f"{live.url}/bulk/get", headers=binding, json={"keys": ["s"], "withMetadata": True}
    )
    assert answer.json()["s"]["metadata"] == {"m": "\ud800"}


def test_workerd_error_messages_echoing_control_characters(
    live: Live, http: httpx.Client, ns: str
) -> None:
    """The message goes into a header: its control characters become spaces."""
    answer = http.put(
        f"{live.url}/k?expiration=%0C%00", headers={"X-EdgeKV-Namespace": ns}, content=b"v"
    )
    assert answer.status_code == 400
    assert answer.headers["cf-kv-error"].startswith("Invalid expiration of")


# cursors, titles


def test_cursors_are_checked(live: Live, http: httpx.Client, ns: str) -> None:
    base = f"{live.namespaces_url()}/{ns}/keys"
    too_long = base64.urlsafe_b64encode(b"a" * 513).decode().rstrip("=")
    refused(http.get(base, params={"cursor": too_long}), 400, 10031, "Invalid cursor:")
    for garbage in ("!!!!", "a" * 5000, "\u00e9t\u00e9", "YQ==", "_"):
        refused(http.get(base, params={"cursor": garbage}), 400, 10031, "Invalid cursor:")
    at_the_bound = base64.urlsafe_b64encode(b"a" * 512).decode().rstrip("=")
    assert http.get(base, params={"cursor": at_the_bound}).status_code == 200


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("a\x00b", "A namespace title cannot contain control characters"),
        ("line\nbreak", "A namespace title cannot contain control characters"),
        ("del\x7f", "A namespace title cannot contain control characters"),
        ("x" * 513, "A namespace title must be at most 512 characters."),
        ("   ", "A namespace title must be a non-empty string."),
        (7, "A namespace title must be a non-empty string."),
    ],
)
def test_titles_are_checked(
    live: Live, http: httpx.Client, ns: str, title: Any, message: str
) -> None:
    refused(http.post(live.namespaces_url(), json={"title": title}), 400, 10019, message)
    refused(http.put(f"{live.namespaces_url()}/{ns}", json={"title": title}), 400, 10019, message)


def test_a_title_with_a_lone_surrogate_is_400(live: Live, http: httpx.Client) -> None:
    answer = http.post(live.namespaces_url(), content=b'{"title": "a\\ud800"}')
    refused(answer, 400, 10019, "A namespace title must be valid UTF-8 (no lone surrogates).")


# any bytes in paths and headers


def test_any_bytes_in_paths_and_headers(live: Live, token: str, ns: str) -> None:
    """Raw bytes where text is expected: each a 4xx, the connection still usable."""
    base = f"/client/v4/accounts/{live.account_id}/storage/kv/namespaces"
    with httpx.Client(base_url=live.url, timeout=30) as client:
        auth = {"Authorization": f"Bearer {token}"}
        for path in (
            f"{base}/%ff%fe",
            f"{base}/{ns}/values/%ff",
            f"{base}/{ns}/values/%",
            f"{base}/{ns}/metadata/%c3%28",
            f"{base}/{ns}/incr/%ed%a0%80",
            "/client/v4/accounts/%ff/storage/kv/namespaces",
            f"{base}/{ns}/keys?prefix=%ff&cursor=%fe",
            f"{base}?order=%ff&direction=%00",
        ):
            answer = client.get(path, headers=auth)
            assert 400 <= answer.status_code < 500, (path, answer.text)
        bearer = (b"authorization", f"Bearer {token}".encode())
        header_sets: list[list[tuple[bytes, bytes]]] = [
            [(b"authorization", b"Bearer \xff\xfe")],
            [(b"authorization", b"Basic !!")],
            [(b"x-auth-key", b"\x80"), (b"x-auth-email", b"\xff")],
            [bearer, (b"cf-kv-metadata", b"\xff")],
            [bearer, (b"if-match", b"\xff")],
            [bearer, (b"content-type", b"multipart/form-data; boundary=\xff")],
        ]
        for headers in header_sets:
            answer = client.put(f"{base}/{ns}/values/h", headers=headers, content=b"v")
            assert 400 <= answer.status_code < 500, (headers, answer.text)
        assert client.get(f"{base}/{ns}/keys", headers=auth).json()["result"] == []


# 405s name what is served


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "", "GET, HEAD, POST"),
        ("POST", "/{ns}", "GET, HEAD, PUT, DELETE"),
        ("POST", "/{ns}/keys", "GET, HEAD"),
        ("GET", "/{ns}/bulk", "PUT, DELETE"),
        ("GET", "/{ns}/bulk/get", "POST"),
        ("GET", "/{ns}/bulk/delete", "POST"),
        ("GET", "/{ns}/incr/k", "POST"),
        ("POST", "/{ns}/values/k", "GET, HEAD, PUT, DELETE"),
        ("PUT", "/{ns}/metadata/k", "GET, HEAD"),
    ],
)
def test_405_names_the_methods_served(
    live: Live, http: httpx.Client, ns: str, method: str, path: str, allow: str
) -> None:
    answer = http.request(method, live.namespaces_url() + path.format(ns=ns))
    refused(answer, 405, 7001, "Method not allowed for this route")
    assert answer.headers["allow"] == allow


# answers within bounded time


def test_huge_inputs_are_answered(live: Live, http: httpx.Client, ns: str) -> None:
    """Parsing never expands a huge number nor walks a deep document for long: each answer
    comes within the client's timeout (30 s), far more than it takes."""
    answer = http.put(f"{values(live, ns)}/k?expiration=1e999999999", content=b"v")
    refused(answer, 400, 10027, "Invalid expiration of 1e999999999.")
    answer = http.put(f"{live.namespaces_url()}/{ns}/bulk", content="[" * 5_000_000)
    refused(answer, 400, 10036, "Malformed JSON in the request body")


# the workerd protocol (on the main port, as X-EdgeKV-Namespace routes it)


def test_the_workerd_protocol_refuses_bad_input(live: Live, http: httpx.Client, ns: str) -> None:
    binding = {"X-EdgeKV-Namespace": ns}

    def status(answer: httpx.Response, code: int, message: str) -> None:
        assert answer.status_code == code, answer.headers
        assert answer.headers["cf-kv-error"].startswith(message)

    put = f"{live.url}/k?urlencoded=true"
    status(
        http.put(f"{put}&expiration={HUGE}", headers=binding, content=b"v"),
        400,
        "Invalid expiration of",
    )
    status(
        http.put(f"{put}&expiration_ttl={HUGE}", headers=binding, content=b"v"),
        400,
        "Invalid expiration_ttl of",
    )
    deep_header = {**binding, "CF-KV-Metadata": "[" * 5000 + "]" * 5000}
    status(
        http.put(put, headers=deep_header, content=b"v"),
        400,
        "Metadata must be valid JSON: JSON nested",
    )
    status(
        http.post(f"{live.url}/bulk/get", headers=binding, content=DEEP),
        400,
        "The request body must be JSON.",
    )
    answer = http.post(
        f"{live.url}/bulk/get", headers=binding, json={"keys": ["k"], "withMetadata": "yes"}
    )
    status(answer, 400, 'withMetadata must be true or false, not "yes".')
    status(
        http.get(f"{live.url}/?key_count_limit={HUGE}", headers=binding),
        400,
        "Invalid key_count_limit of",
    )
    too_long = base64.urlsafe_b64encode(b"a" * 513).decode().rstrip("=")
    status(http.get(f"{live.url}/?cursor={too_long}", headers=binding), 400, "Invalid cursor:")
    status(
        http.get(f"{live.url}/k?cache_ttl=-{HUGE}", headers=binding), 400, "Invalid cache_ttl of"
    )
    assert keys_of(live, http, ns) == []


@pytest.mark.parametrize("position", ["9" * 30, str(2**63), "²", "1_0", " 1", "-1", "x" * 5000])
def test_feed_positions_of_any_size_or_script(
    live: Live, http: httpx.Client, position: str
) -> None:
    feed = f"{live.api}/accounts/{live.account_id}/storage/kv/changes"
    refused(http.get(feed, params={"position": position}), 400, 10012, "Invalid feed position:")
    answer = http.get(f"{feed}/wait", params={"position": position, "seconds": "0"})
    refused(answer, 400, 10012, "Invalid feed position:")

"""Schemathesis against `/openapi.json` of a live server: no 5xx, answers match the schema."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import checks

from .conftest import Live

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


@pytest.fixture(scope="module")
def real_namespace(live: Live, token: str) -> str:
    with live.client(token) as client:
        answer = client.post(live.namespaces_url(), json={"title": "schemathesis"})
        ns = str(answer.json()["result"]["id"])
        client.put(f"{live.namespaces_url()}/{ns}/values/k", content=b"1")
    return ns


def test_api_matches_its_schema(live: Live, token: str, real_namespace: str) -> None:
    # The Python API rather than the pytest plugin: one test runs every operation.
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            # Real ids half the time, so requests reach past the account and namespace checks.
            if "account_id" in case.path_parameters and len(str(case.path_parameters)) % 2:
                case.path_parameters["account_id"] = live.account_id
                if "namespace_id" in case.path_parameters and case.method != "DELETE":
                    case.path_parameters["namespace_id"] = real_namespace
            case.call_and_validate(base_url=live.url, headers=headers, checks=CHECKS)

        run()
        tested += 1
    assert tested >= 18

"""The spec is the server: schemathesis against a live `edgekv serve`, every check it has.

A bounded run of the long one docs/server.md describes ("The API's schema"): the same config
(tests/server/schemathesis/schemathesis.toml) and hooks, stateless phases (examples, coverage,
fuzzing: valid and invalid requests) and the stateful one (following the schema's links), over
a server started as a user starts it, on a free port, with a token. It passes only with 0
failures over at least 1,000 generated cases.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).parent
EDGEKV = Path(sys.executable).parent / "edgekv"
SCHEMATHESIS = Path(sys.executable).parent / "st"
EXAMPLES = int(
    os.environ.get("EDGEKV_SCHEMATHESIS_EXAMPLES", "100")
)  # ~3,600 cases, under a minute here


@dataclass
class Served:
    url: str
    account_id: str
    token: str
    namespace_id: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'kv.db'}"
    created = subprocess.run(
        [EDGEKV, "token", "create", "--store", store],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = created.stdout.strip().splitlines()[-1]
    server = subprocess.Popen(
        [EDGEKV, "serve", "--store", store, "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline(), server.stdout.readline()]
        url = re.search(r"listening on (http://\S+)", lines[0])
        account = re.search(r"account id: (\w+)", lines[1])
        assert url and account, lines
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            namespaces = f"{url[1]}/client/v4/accounts/{account[1]}/storage/kv/namespaces"
            answer = client.post(namespaces, json={"title": "schemathesis"})
            namespace_id = answer.json()["result"]["id"]
            client.put(f"{namespaces}/{namespace_id}/values/k", content=b"1")
        yield Served(url[1], account[1], token, namespace_id)
    finally:
        server.terminate()
        server.wait(60)


def test_schemathesis_finds_no_failure(served: Served, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "EDGEKV_TOKEN": served.token,
        "EDGEKV_ACCOUNT_ID": served.account_id,
        "EDGEKV_NAMESPACE_ID": served.namespace_id,
        "SCHEMATHESIS_HOOKS": "tests.server.schemathesis.hooks",
        "PYTHONPATH": str(HERE.parent.parent),
    }
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            HERE / "schemathesis" / "schemathesis.toml",
            "run",
            f"{served.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--workers",
            "1",
            "--request-timeout",
            "40",
            "--seed",
            os.environ.get("EDGEKV_SCHEMATHESIS_SEED", "1212"),
            "--generation-database",
            "none",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # its reports, if any, stay out of the checkout
        timeout=900,
    )
    summary = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    print(run.stdout[-1500:])  # the summary, in pytest's report of the test (-rA, -s)
    assert run.returncode == 0 and summary, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary[1] == summary[2]
    assert int(summary[1]) >= 1000, summary[0]
    assert re.search(r"Stateful .*\n\n\s+Scenarios:\s+[1-9]", run.stdout), run.stdout[-3000:]

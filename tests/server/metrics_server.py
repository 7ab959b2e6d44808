"""`edgekv serve --metrics-port 0` as a subprocess, and scrapes of its /metrics."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.server.test_serve import EDGEKV, _env


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    account: str
    metrics_url: str

    def values_url(self, namespace: str, key: str) -> str:
        base = f"{self.url}/client/v4/accounts/{self.account}/storage/kv/namespaces"
        return f"{base}/{namespace}/values/{key}"

    def namespace(self, title: str) -> str:
        base = f"{self.url}/client/v4/accounts/{self.account}/storage/kv/namespaces"
        answer = httpx.post(base, json={"title": title})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["result"]["id"])


@contextmanager
def serving_metrics(data_dir: Path, *args: str) -> Iterator[Served]:
    """`edgekv serve --port 0 --metrics-port 0 --no-auth --workers 1 ...`, until SIGTERM."""
    proc = subprocess.Popen(
        [
            *EDGEKV,
            "serve",
            "--port",
            "0",
            "--metrics-port",
            "0",
            "--no-auth",
            "--workers",
            "1",
            *args,
        ],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while "metrics:" not in lines[-1]:
            if not lines[-1]:
                raise AssertionError("".join(lines) + (proc.stderr.read() if proc.stderr else ""))
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        url = re.search(r"listening on (http://\S+)", text)
        account = re.search(r"account id: (\w+)", text)
        metrics = re.search(r"metrics: (http://\S+)", text)
        assert url and account and metrics, text
        yield Served(proc, url[1], account[1], metrics[1])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def scrape(url: str) -> dict[str, list[Sample]]:
    """The samples of a scrape by family name, as Prometheus' own parser reads them."""
    answer = httpx.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The one sample named `name` whose labels include `labels`, or None."""
    found = [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None

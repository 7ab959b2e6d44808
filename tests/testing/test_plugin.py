"""The pytest plugin (`edgekv.testing`) as a user meets it: loaded by its entry point in a
pytest of its own (pytester, in a subprocess), with no conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

import edgekv

EXAMPLE = Path(__file__).parents[2] / "examples" / "test_example.py"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_the_example_a_user_copies_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=EXAMPLE.read_text())
    result = run(pytester)
    result.assert_outcomes(passed=5)


ISOLATION = """
import pytest

@pytest.mark.parametrize("run", range(3))
def test_a_namespace_of_its_own(edgekv_namespace, run):
    assert edgekv_namespace.list().keys == []
    edgekv_namespace.put("k", str(run))
    assert edgekv_namespace.title.startswith("pytest-test_a_namespace_of_its_own")
"""


def test_memory_gives_every_test_an_empty_namespace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_isolation=ISOLATION)
    run(pytester).assert_outcomes(passed=3)


def test_a_shared_store_gets_a_namespace_per_test_deleted_after_it(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    with edgekv.KV(url) as kv:
        kept = kv.create_namespace("not-the-tests")
        kept.put("k", "v")
    pytester.makepyfile(test_isolation=ISOLATION)
    run(pytester, "--edgekv-store", url).assert_outcomes(passed=3)
    pytester.makepyfile(test_isolation=ISOLATION)
    monkeypatch.setenv("EDGEKV_TEST_STORE", url)  # the same through the environment
    run(pytester).assert_outcomes(passed=3)
    with edgekv.KV(url) as kv:
        titles = [ns.title for ns in kv.list_namespaces(per_page=100).namespaces]
        assert titles == ["not-the-tests"]
        assert kv.namespace("not-the-tests").get("k") == "v"


def test_the_option_is_in_pytests_help(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["*--edgekv-store=URL*"])


CLOCK_AND_ASYNC = """
import pytest

def test_expiry_follows_the_clock(edgekv_kv, edgekv_clock):
    ns = edgekv_kv.create_namespace("ns")
    ns.put("k", "v", expiration=int(edgekv_clock()) + 120)
    edgekv_clock.advance(119)
    assert ns.get("k") == "v"
    edgekv_clock.advance(1)
    assert ns.get("k") is None
    assert ns.list().keys == []

@pytest.mark.asyncio
async def test_async_fixtures_share_the_clock(edgekv_async_kv, edgekv_async_namespace, edgekv_clock):
    await edgekv_async_namespace.put("k", "v", expiration_ttl=60)
    again = await edgekv_async_kv.namespace(edgekv_async_namespace.id)
    assert await again.get("k") == "v"
    edgekv_clock.advance(60)
    assert await again.get("k") is None

def test_sync_and_async_memory_stores_are_separate(edgekv_store, edgekv_async_store):
    assert edgekv_store is not edgekv_async_store
"""


def test_the_clock_moves_expirations_in_sync_and_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_clock=CLOCK_AND_ASYNC)
    run(pytester).assert_outcomes(passed=3)


SERVER = """
def test_the_server_serves_the_given_store(edgekv_server):
    with edgekv_server.kv() as kv:
        kv.create_namespace("made-through-rest").put("k", "v")
    assert edgekv_server.store_url.startswith("sqlite:///")
    service = edgekv_server.workerd_service("kv", "0" * 32)
    assert f'address = "127.0.0.1:{edgekv_server.workerd_port}"' in service
    assert f'value = "Bearer {edgekv_server.token}"' in service
"""


def test_the_server_fixture_serves_the_store_given(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/served.db"
    pytester.makepyfile(test_server=SERVER)
    run(pytester, "--edgekv-store", url).assert_outcomes(passed=1)
    with edgekv.KV(url) as kv:  # written through the server's REST API, into that store
        assert kv.namespace("made-through-rest").get("k") == "v"

from __future__ import annotations

from pathlib import Path

import pytest

from edgekv import BadRequest
from edgekv.cache import Policies, Policy, seconds
from edgekv.cache.keys import compile_key

TIERS = """
[default]
ttl = "5m"

[[policy]]
pattern = "{tid}:tenant:config"
ttl = "15m"
stale = "1m"

[[policy]]
pattern = "{tid}:products:list:*"
ttl = "2m"

[[policy]]
pattern = "{tid}:user:*:session"
ttl = "60s"

[[policy]]
pattern = "{tid}:ratelimit:**"
ttl = 30

[[policy]]
pattern = "{tid}:secrets:**"
cache = false
"""


def test_the_tiers_users_write_down() -> None:
    p = Policies.from_toml(TIERS)
    assert p.lookup("acme:tenant:config").ttl == 900
    assert p.lookup("acme:tenant:config").stale == 60
    assert p.lookup("acme:products:list:shoes").ttl == 120
    assert p.lookup("acme:user:42:session").ttl == 60
    assert p.lookup("acme:ratelimit:ip:1.2.3.4:w1").ttl == 30
    assert p.lookup("acme:secrets:db:password").cache is False
    assert p.lookup("acme:other").ttl == 300
    assert p.lookup("acme:other").pattern == "default"


def test_placeholders_stay_within_a_segment() -> None:
    p = Policies.from_toml(TIERS)
    # `*` and `{tid}` never cross a colon; only `**` does.
    assert p.lookup("acme:products:list:shoes:page:2").pattern == "default"
    assert p.lookup("a:b:tenant:config").pattern == "default"
    assert p.lookup(":tenant:config").pattern == "default"  # `{tid}` needs one character


def test_first_pattern_in_file_order_wins() -> None:
    p = Policies([Policy.of("a:*", ttl=1), Policy.of("a:b", ttl=2)])
    assert p.lookup("a:b").ttl == 1
    assert p.lookup("a:b").ttl == 1  # memoised answer is the same


def test_pattern_text_is_literal() -> None:
    p = Policies([Policy.of("a.b+(c)", ttl=1)])
    assert p.lookup("a.b+(c)").ttl == 1
    assert p.lookup("aXb+(c)").pattern == "default"


def test_policy_file_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "cache.toml"
    path.write_text(TIERS)
    assert Policies.from_toml(path).lookup("x:tenant:config").ttl == 900
    assert Policies.from_toml(str(path)).lookup("x:tenant:config").ttl == 900


@pytest.mark.parametrize(
    "text, words",
    [
        ("[[policy]]\nttl = 1\n", "needs a pattern"),
        ('[[policy]]\npattern = "a"\nttl = "soon"\n', "Invalid ttl"),
        ('[[policy]]\npattern = "a"\ntll = 5\n', "Unknown policy field"),
        ('[[policy]]\npattern = "a"\ncache = "no"\n', "true or false"),
        ('[[policy]]\npattern = "a"\n[[policy]]\npattern = "a"\n', "appears twice"),
        ("[defaults]\n", "Unknown section"),
        ("[default\n", "Invalid policy file"),
    ],
)
def test_bad_policy_files_are_refused_clearly(text: str, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        Policies.from_toml(text)


@pytest.mark.parametrize(
    "given, expected",
    [
        (90, 90.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1d", 86400.0),
        (None, None),
    ],
)
def test_durations(given: int | str | None, expected: float | None) -> None:
    assert seconds(given) == expected


@pytest.mark.parametrize("bad", ["", "m", "10 minutes", "-5", "5x", True, float("inf"), [1]])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(BadRequest):
        seconds(bad)  # type: ignore[arg-type]


def test_overrides_replace_only_what_is_given() -> None:
    base = Policy.of("p", ttl="10m", stale="1m")
    changed = base.with_overrides(ttl=30, stale=None)
    assert (changed.ttl, changed.stale, changed.pattern) == (30, 60, "p")
    assert base.with_overrides() is base


class User:
    id = 7


def test_key_templates_bind_like_a_call() -> None:
    def f(tenant: str, site_id: int, /, page: int = 1, *, user: User, **extra: object) -> None:
        pass

    key = compile_key("{tenant}:site:{site_id}:p{page:03d}:u{user.id}", f)
    assert key("acme", 5, user=User()) == "acme:site:5:p001:u7"
    assert key("acme", 5, 2, user=User()) == "acme:site:5:p002:u7"
    with pytest.raises(TypeError):
        key("acme", user=User())  # the same TypeError the function itself would raise


def test_key_template_escapes_and_constants() -> None:
    def f(a: str) -> None:
        pass

    assert compile_key("{{literal}}:{a}:'\"\\", f)("x") == "{literal}:x:'\"\\"
    assert compile_key("constant", f)("x") == "constant"
    assert compile_key("{a!r}", f)("x") == "'x'"


@pytest.mark.parametrize("template", ["{nope}", "{a[0]}", "{a.__class__()}", "{a:{a}}", "{a"])
def test_bad_key_templates_fail_at_decoration(template: str) -> None:
    def f(a: str) -> None:
        pass

    with pytest.raises(ValueError):
        compile_key(template, f)

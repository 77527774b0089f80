"""Settings, endpoints and the environment (no sockets)."""

import pytest

from cloudmc_frames.config import (
    Settings,
    cache_choice,
    from_env,
    normalize_endpoint,
    redacted_url,
)
from cloudmc_frames.errors import ConfigError


@pytest.mark.parametrize("given", [
    "https://cloudmc.example.com", "https://cloudmc.example.com/", "https://cloudmc.example.com/api/v2",
    "https://cloudmc.example.com/api/v2/", "  https://cloudmc.example.com/api/v2  ",
])
def test_endpoint_forms_normalize_to_api_v2(given):
    assert normalize_endpoint(given) == "https://cloudmc.example.com/api/v2"


def test_endpoint_keeps_port_and_prefix():
    assert normalize_endpoint("https://h:8443/cmc/api/v2/") == "https://h:8443/cmc/api/v2"


@pytest.mark.parametrize("bad", ["", "   ", "cloudmc.example.com", "ftp://h", "https://", None, 42,
                                 "https://h:99999", "https://h/?x=1"])
def test_bad_endpoints_raise_config_error(bad):
    with pytest.raises(ConfigError, match="endpoint"):
        normalize_endpoint(bad)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(endpoint):
    assert Settings.from_options(endpoint).endpoint.startswith("http://")


def test_plain_http_to_remote_host_is_refused_unless_opted_in():
    with pytest.raises(ConfigError, match="allow_insecure=True"):
        Settings.from_options("http://cloudmc.example.com")
    assert Settings.from_options("http://cloudmc.example.com", allow_insecure=True)


def test_unknown_option_names_the_closest_valid_one():
    with pytest.raises(ConfigError, match="Did you mean 'read_timeout'"):
        Settings.from_options("https://h", read_timout=3)


@pytest.mark.parametrize("option, value", [
    ("read_timeout", -1), ("read_timeout", "10"), ("retries", 1.5), ("page_size", 0),
    ("max_workers", True), ("offline", "yes"), ("urls_expire_after", 5),
])
def test_bad_option_values_raise(option, value):
    with pytest.raises(ConfigError, match=option):
        Settings.from_options("https://h", **{option: value})


def test_from_env_names_both_variables_and_the_sandbox():
    with pytest.raises(ConfigError) as info:
        from_env({})
    text = str(info.value)
    assert "CLOUDMC_ENDPOINT" in text and "CLOUDMC_API_KEY" in text and "cmf.sandbox()" in text


def test_from_env_names_only_the_missing_variable():
    with pytest.raises(ConfigError, match=r"^CLOUDMC_API_KEY not set"):
        from_env({"CLOUDMC_ENDPOINT": "https://h"})
    assert from_env({"CLOUDMC_ENDPOINT": "https://h", "CLOUDMC_API_KEY": "k"}) == ("https://h", "k")


def test_cache_path_carries_a_format_version(tmp_path):
    settings = Settings.from_options("https://h", cache_dir=str(tmp_path))
    from cloudmc_frames.config import CACHE_FORMAT_VERSION

    assert settings.cache_path.parent == tmp_path
    assert settings.cache_path.name == f"http-cache-v{CACHE_FORMAT_VERSION}"


def test_every_option_has_its_validator_next_to_its_field():
    import dataclasses

    fields = [f for f in dataclasses.fields(Settings) if f.name != "endpoint"]
    assert fields and all(callable(f.metadata.get("check")) for f in fields)


def test_credentials_prefer_arguments_and_fall_back_to_the_environment():
    from cloudmc_frames.config import credentials

    env = {"CLOUDMC_ENDPOINT": " https://env ", "CLOUDMC_API_KEY": "env-key"}
    assert credentials("https://arg", "arg-key", env) == ("https://arg", "arg-key")
    assert credentials("https://arg", None, env) == ("https://arg", "env-key")
    assert credentials(None, None, env) == ("https://env", "env-key")
    with pytest.raises(ConfigError, match="^CLOUDMC_API_KEY not set"):
        credentials("https://arg", None, {})


# -- the Redis cache URL -------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["redis://cache:6379/0", "redis://:pw@cache", "rediss://u:pw@cache:6380/2",
                                 "unix:///run/redis/redis.sock", "unix:///tmp/r.sock?db=3&password=pw"])
def test_redis_urls_accepted(url):
    settings = Settings.from_options("https://h", cache_url=url)
    assert settings.cache_backend == "redis" and settings.cache_url == url


@pytest.mark.parametrize("url, words", [
    ("http://cache:6379", "not a Redis URL"), ("cache:6379", "not a Redis URL"),
    ("redis://cache:99999/0", "invalid port"), ("redis:///0", "needs a host"),
    ("redis://cache/zero", "database number"), ("unix://relative.sock", "absolute socket path"),
    ("", "must be a Redis URL"), (6379, "must be a Redis URL"),
])
def test_bad_redis_urls_are_one_clear_error(url, words):
    with pytest.raises(ConfigError, match=words):
        Settings.from_options("https://h", cache_url=url)


def test_a_password_in_a_bad_url_is_not_repeated():
    with pytest.raises(ConfigError) as info:
        Settings.from_options("https://h", cache_url="redis://:s3cret-pw@cache:99999/0")
    assert "s3cret-pw" not in str(info.value) and ":***@" in str(info.value)


def test_the_cache_url_never_shows_in_a_repr():
    settings = Settings.from_options("https://h", cache_url="redis://:s3cret-pw@cache/0")
    assert "s3cret-pw" not in repr(settings) and "cache_url" not in repr(settings)


@pytest.mark.parametrize("options, env, expected", [
    ({}, None, ("sqlite", None)),
    ({}, "redis://c/0", ("redis", "redis://c/0")),
    ({"cache_backend": "redis"}, "redis://c/0", ("redis", "redis://c/0")),
    ({"cache_backend": "memory"}, "redis://c/0", ("memory", None)),
    ({"cache_url": "redis://mine/1"}, "redis://c/0", ("redis", "redis://mine/1")),
], ids=["default", "variable", "variable-and-redis", "explicit-backend-wins", "argument-wins"])
def test_cache_backend_and_url_from_options_and_the_variable(options, env, expected):
    assert tuple(cache_choice(options, env).values()) == expected


def test_redis_without_a_url_or_a_url_without_redis_is_refused():
    with pytest.raises(ConfigError, match="needs the server: pass cache_url="):
        Settings.from_options("https://h", cache_backend="redis")
    with pytest.raises(ConfigError, match="cache_url is for cache_backend='redis'"):
        Settings.from_options("https://h", cache_backend="sqlite", cache_url="redis://c/0")


def test_cloudmc_cache_url_is_read_by_from_options(monkeypatch):
    monkeypatch.setenv("CLOUDMC_CACHE_URL", "unix:///tmp/team.sock")
    assert Settings.from_options("https://h").cache_url == "unix:///tmp/team.sock"
    monkeypatch.setenv("CLOUDMC_CACHE_URL", "ftp://nope")
    with pytest.raises(ConfigError, match="CLOUDMC_CACHE_URL|not a Redis URL"):
        Settings.from_options("https://h")


@pytest.mark.parametrize("url, shown", [
    ("redis://:pw@h:1/0", "redis://:***@h:1/0"), ("redis://user:pw@h", "redis://user:***@h"),
    ("redis://user@h", "redis://user@h"), ("unix:///s.sock?password=pw&db=1", "unix:///s.sock?password=***&db=1"),
])
def test_redacted_url(url, shown):
    assert redacted_url(url) == shown

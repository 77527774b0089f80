"""Settings, endpoints and the environment (no sockets)."""

import pytest

from cloudmc_frames.config import Settings, from_env, normalize_endpoint
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
    ("max_requests_per_second", 0), ("max_requests_per_second", -2), ("max_requests_per_second", "5"),
    ("max_requests_per_second", True), ("max_retry_after", -1), ("adaptive_throttle", 1),
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


def test_throttle_settings_default_to_adaptive_without_ceiling_and_a_two_minute_cap():
    settings = Settings.from_options("https://h")
    assert (settings.max_requests_per_second, settings.max_retry_after, settings.adaptive_throttle) == \
        (None, 120.0, True)
    assert Settings.from_options("https://h", max_requests_per_second=5).max_requests_per_second == 5.0

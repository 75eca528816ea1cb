"""Settings resolution and the key's secrecy."""

from __future__ import annotations

import pytest

from heygen_lab.client import HeyGenClient
from heygen_lab.errors import ConfigurationError
from heygen_lab.settings import Secret, Settings, Timeouts

KEY = "sk-live-very-secret-key-0123456789abcdef"


def test_argument_beats_environment_beats_default() -> None:
    env = {"HEYGEN_API_KEY": "from-env", "HEYGEN_API_BASE": "http://env.example"}
    s = Settings.resolve("from-arg", api_base="http://arg.example/", env=env)
    assert s.api_key == Secret("from-arg")
    assert s.api_base == "http://arg.example"
    s = Settings.resolve(env=env)
    assert s.api_key is not None and s.api_key.reveal() == "from-env"
    assert s.api_base == "http://env.example"
    s = Settings.resolve(env={})
    assert s.api_key is None
    assert (s.api_base, s.upload_base) == ("https://api.heygen.com", "https://upload.heygen.com")


def test_timeout_number_applies_to_all() -> None:
    assert Settings.resolve(timeout=5, env={}).timeouts == Timeouts.uniform(5.0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"api_base": "api.heygen.com"}, "http(s) URL"), ({"upload_base": "ftp://x"}, "http(s) URL"),
     ({"timeout": 0}, "timeout"), ({"max_retries": -1}, "max_retries"),
     ({"api_base": "https://user:pw@h"}, "credentials")],
)
def test_bad_settings_name_the_problem(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Settings.resolve(env={}, **kwargs)  # type: ignore[arg-type]


def test_key_with_newline_is_refused_without_echo() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve(KEY + "\nX", env={})
    assert KEY not in str(info.value)


def test_key_never_in_repr() -> None:
    s = Settings.resolve(KEY, env={})
    client = HeyGenClient(KEY, env={})
    for text in (repr(s), str(s), repr(client), repr(s.api_key), str(s.api_key)):
        assert KEY not in text
    assert "api_key=set" in repr(client)

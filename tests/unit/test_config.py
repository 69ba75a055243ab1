import json
import os

import pytest

from bpo.config import ConfigError, load_config, normalize_database_url


def test_production_refuses_to_start_and_names_what_is_missing(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(
            {"BPO_ENV": "production", "REDIS_URL": "redis://x", "BPO_INSTANCE_DIR": str(tmp_path)}
        )
    message = str(raised.value)
    assert "DATABASE_URL" in message and "SECRET_KEY" in message
    assert "REDIS_URL" not in message


def test_production_with_everything_set_loads(tmp_path):
    config = load_config(
        {
            "BPO_ENV": "production",
            "DATABASE_URL": "postgres://u@db/x",
            "REDIS_URL": "redis://r:6379/0",
            "SECRET_KEY": "s3cret",
        }
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"
    assert config["SESSION_COOKIE_SECURE"] is True


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="BPO_ENV"):
        load_config({"BPO_ENV": "staging"})


def test_development_without_urls_explains_how_to_start(tmp_path):
    with pytest.raises(ConfigError, match="make run"):
        load_config({"BPO_INSTANCE_DIR": str(tmp_path)})


def test_development_finds_urls_of_a_running_owner(tmp_path):
    (tmp_path / "embedded.json").write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "DATABASE_URL": "postgresql://p@/bpo?host=/s",
                "REDIS_URL": "unix:///r.sock",
            }
        )
    )
    config = load_config({"BPO_INSTANCE_DIR": str(tmp_path)})
    assert config["REDIS_URL"] == "unix:///r.sock"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    # The development secret is generated once and kept.
    assert config["SECRET_KEY"] == load_config({"BPO_INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]


def test_state_of_a_dead_owner_is_ignored(tmp_path):
    (tmp_path / "embedded.json").write_text(
        json.dumps(
            {"pid": 2**22 + 12345, "DATABASE_URL": "postgresql://x", "REDIS_URL": "redis://y"}
        )
    )
    with pytest.raises(ConfigError):
        load_config({"BPO_INSTANCE_DIR": str(tmp_path)})


def test_database_urls_use_psycopg3():
    assert normalize_database_url("postgresql://a@b/c") == "postgresql+psycopg://a@b/c"
    assert normalize_database_url("postgresql+psycopg://a@b/c") == "postgresql+psycopg://a@b/c"

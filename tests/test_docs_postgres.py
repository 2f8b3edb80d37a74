"""The PostgreSQL guide's compose example hangs together: every name it uses exists.

Containers can't run in the test environment, so this checks what a typo
would break: the services the guide talks about, the database URL against
the database the compose file creates, Caddy's upstreams against the
services, the settings against the ones Scorelet reads, and the Dockerfile's
sources against the repository. The same shape, PostgreSQL with two
processes and a proxy, runs for real in test_postgres.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "postgresql"
GUIDE = (ROOT / "docs" / "postgresql.md").read_text()


def compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((EXAMPLE / "compose.yaml").read_text())
    return loaded


def settings_scorelet_reads() -> set[str]:
    source = "\n".join(p.read_text() for p in (ROOT / "server" / "scorelet").rglob("*.py"))
    return set(re.findall(r'"(SCORELET_[A-Z_]+)"', source))


def test_the_two_processes_reach_the_database_the_compose_file_makes() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert {"postgres", "scorelet-a", "scorelet-b", "caddy"} <= set(services)
    db = services["postgres"]["environment"]
    for name in ("scorelet-a", "scorelet-b"):
        env = services[name]["environment"]
        url = urlsplit(
            env["SCORELET_DATABASE_URL"].replace("${POSTGRES_PASSWORD:-change-me}", "pw")
        )
        assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
        assert url.username == db["POSTGRES_USER"]
        assert url.path == "/" + db["POSTGRES_DB"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert set(env) <= settings_scorelet_reads(), set(env) - settings_scorelet_reads()


def test_caddy_proxies_to_both_processes_and_checks_their_health() -> None:
    caddyfile = (EXAMPLE / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy \{\$UPSTREAMS:([^}]+)\}", caddyfile)
    assert upstreams
    assert upstreams.group(1).split() == ["scorelet-a:8000", "scorelet-b:8000"]
    assert "health_uri /healthz" in caddyfile
    assert "flush_interval -1" in caddyfile  # the event stream
    caddy = compose()["services"]["caddy"]  # type: ignore[index]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]


def test_the_image_builds_from_files_that_exist() -> None:
    dockerfile = (EXAMPLE / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        assert (ROOT / source).exists(), source
    assert 'CMD ["scorelet", "serve"]' in dockerfile
    build = compose()["x-scorelet"]["build"]  # type: ignore[index]
    assert (EXAMPLE / build["context"]).resolve() == ROOT
    assert (EXAMPLE / build["context"] / build["dockerfile"]).resolve() == EXAMPLE / "Dockerfile"


def test_the_guide_names_the_example_and_every_setting_it_mentions_exists() -> None:
    assert "examples/postgresql/" in GUIDE
    mentioned = set(re.findall(r"SCORELET_[A-Z_]+", GUIDE))
    assert mentioned <= settings_scorelet_reads(), mentioned - settings_scorelet_reads()

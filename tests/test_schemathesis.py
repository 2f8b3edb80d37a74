"""Schemathesis against the live `/openapi.json`: no 5xx, no answer outside the schema.

Cases are generated from the document the server publishes and sent to a
real server over HTTP with an admin key, so the authenticated endpoints are
exercised too. Each operation gets its own hypothesis run through
schemathesis's Python API (`APIOperation.as_strategy`), which keeps this
independent of the pytest plugin. Rate limits are off for this server: the
flood is the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import LiveServer, run_server

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
]
EXAMPLES = 20


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    for server in run_server(tmp_path_factory.mktemp("schemathesis"), rate_limit=False):
        server.add_touchpoint(slug="checkout", metric="csat")
        server.add_touchpoint(slug="loyalty", metric="nps")
        yield server


def streams(definition: dict[str, Any]) -> bool:
    """Server-sent events never end, so there is no answer to check; they have own tests."""
    return any(
        "text/event-stream" in response.get("content", {})
        for response in definition.get("responses", {}).values()
    )


def test_the_api_keeps_to_its_schema(fuzzed: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(fuzzed.url + "/openapi.json")
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if not streams(operation.definition.raw)
    ]
    assert len(operations) >= 10
    headers = {"authorization": f"Bearer {fuzzed.admin_key}"}
    with requests.Session() as session:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=fuzzed.url, session=session, headers=headers, checks=CHECKS
                )

            check()

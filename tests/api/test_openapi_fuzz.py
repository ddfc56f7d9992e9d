"""Property-based fuzzing of the served OpenAPI document, through the real app, on both backends.

Schemathesis generates requests from the document: valid ones and, for operations that take input,
ones that break it. Every reply must be free of 5xx and agree with the document: a documented
status code and content type, the documented headers, a body matching the documented schema. Half of
the cases carry a real key and a real group id, so that they reach the services and the database
instead of stopping at authentication. Examples are bounded and derandomized: the same cases every
run, so the suite stays quick and a failure reproduces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.web.api.reference import document
from subgroups.web.app import create_app
from tests.factories import Tenant, make_tenant

BASE_URL = "http://testserver"
EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in ("get", "post")
    )


def takes_input(method: str, path: str) -> bool:
    operation = document()["paths"][path][method.lower()]
    return bool(operation.get("parameters") or operation.get("requestBody"))


@dataclass
class Target:
    runner: asyncio.Runner
    client: httpx.AsyncClient
    schema: Any
    tenant: Tenant
    strategies: dict[tuple[str, str, GenerationMode], SearchStrategy[Case[Any]]] = field(
        default_factory=dict
    )

    def strategy(self, method: str, path: str, mode: GenerationMode) -> SearchStrategy[Case[Any]]:
        key = (method, path, mode)
        if key not in self.strategies:
            self.strategies[key] = self.schema[path][method].as_strategy(generation_mode=mode)
        return self.strategies[key]

    def send(self, case: Case[Any]) -> httpx.Response:
        # Prepared exactly as schemathesis would put it on the wire, then sent through the app.
        prepared = requests.Request(**case.as_transport_kwargs(base_url=BASE_URL)).prepare()
        body = prepared.body
        assert body is None or isinstance(body, bytes | str)
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in prepared.headers.items()
        }
        request = self.client.request(
            prepared.method or "GET", prepared.url or BASE_URL, headers=headers, content=body
        )
        return self.runner.run(request)


@pytest.fixture
def target(settings: Settings) -> Iterator[Target]:
    """The app with its own event loop: hypothesis runs each example synchronously."""
    with asyncio.Runner() as runner:
        services = build_services(settings)
        transport = httpx.ASGITransport(app=create_app(settings, services))
        client = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
        try:
            tenant = runner.run(make_tenant(services))
            served = runner.run(client.get("/openapi.json")).json()
            yield Target(runner, client, schemathesis.openapi.from_dict(served), tenant)
        finally:
            runner.run(client.aclose())
            runner.run(services.aclose())


def steer(case: Case[Any], tenant: Tenant, group_id: str) -> None:
    """Gives the case a valid key and, wherever it names a group, one that exists."""
    case.headers["Authorization"] = f"Bearer {tenant.key}"
    if isinstance(case.query, dict) and "subscription_group_id" in case.query:
        case.query = {**case.query, "subscription_group_id": group_id}
    body = case.body
    if isinstance(body, dict):
        objects = body.get("subscription_groups")
        for obj in [body, *(objects if isinstance(objects, list) else [])]:
            if isinstance(obj, dict) and "subscription_group_id" in obj:
                obj["subscription_group_id"] = group_id


@pytest.mark.parametrize(("method", "path"), operations())
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app and database for all of a test's examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
def test_replies_agree_with_the_document(
    target: Target, method: str, path: str, data: st.DataObject
) -> None:
    modes = [GenerationMode.POSITIVE]
    if takes_input(method, path):
        modes.append(GenerationMode.NEGATIVE)
    mode = data.draw(st.sampled_from(modes), label="mode")
    case = data.draw(target.strategy(method, path, mode), label="case")
    if data.draw(st.booleans(), label="steer"):
        groups = [target.tenant.email_group.id, target.tenant.sms_group.id]
        steer(case, target.tenant, data.draw(st.sampled_from(groups), label="group"))

    response = target.send(case)

    case.validate_response(response, checks=CHECKS)

"""Every operation in our own OpenAPI document, fed generated input by schemathesis, answers with a
documented, non-5xx response (UI-4): bad input gets a clear 4xx, never a crash."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from server import jobs
from tests.factories import make_company, make_contact, make_deal, make_org, make_user


def _bearer(app) -> str:
    from server.auth.tokens import create_api_token

    org = make_org(name="Fuzz Org")
    admin = make_user(org, role="super_admin", email="fuzz-admin@fuzz.example")
    company = make_company(org, domains=["fuzz.example"])
    contact = make_contact(org, ["someone@fuzz.example"], owner=admin, company=company)
    make_deal(org, owner=admin)
    assert contact.id
    return create_api_token(admin, "fuzz")[1]


@pytest.fixture
def api_schema(app):
    runner = jobs.start_inline_runner(app)  # operations that queue work (imports) need it
    yield schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    runner.stop()
    app.extensions.pop("inline_runner", None)


schema = schemathesis.pytest.from_fixture("api_schema")


def test_openapi_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    document = client.get("/api/openapi.json").json
    validate(document)
    assert document["openapi"].startswith("3.")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case, app):
    token = app.config.setdefault("_FUZZ_TOKEN", None) or _bearer(app)
    app.config["_FUZZ_TOKEN"] = token
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )

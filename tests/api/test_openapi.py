"""The OpenAPI document: valid, generated from the schemas the endpoints use, complete,
public; and the docs page rendered from it on the server, with nothing from a CDN."""

import re
from html.parser import HTMLParser

import pytest
from openapi_spec_validator import validate

from bpo.api.v1.openapi import PUBLIC_ENDPOINTS, document
from bpo.work.schemas import TaskCreateArgs, TaskListArgs
from bpo.work.types import TYPES


@pytest.fixture
def served(client, world) -> dict:
    response = client.get("/api/v1/openapi.json")  # no token
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _api_routes(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every /api/v1 route the app serves, public ones aside."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api_v1.") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        routes |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_the_document_validates_as_openapi_3(served):
    validate(served)
    assert served["openapi"].startswith("3.")
    assert served == document()


def test_every_route_is_documented_and_nothing_else(app, served):
    documented = {(method, path) for path, ops in served["paths"].items() for method in ops}
    assert documented == _api_routes(app)
    assert ("post", "/tasks/batch") in documented and ("get", "/tasks/{task_id}") in documented


def test_bearer_security_applies_to_every_operation(served):
    assert served["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    assert served["security"] == [{"bearer": []}]
    for ops in served["paths"].values():
        for op in ops.values():
            assert {"401", "403"} <= set(op["responses"]), op["summary"]


def test_schemas_come_from_the_marshmallow_schemas(served):
    schemas = served["components"]["schemas"]
    assert {
        "TaskCreate",
        "MessageArgs",
        "Task",
        "TaskSummary",
        "TaskPage",
        "Attachment",
        "ErrorEnvelope",
        "HistoryEvent",
        "BatchArgs",
        "BatchResult",
    } <= set(schemas)
    create = schemas["TaskCreate"]
    assert set(create["properties"]) == set(TaskCreateArgs().fields)
    assert create["properties"]["type"]["enum"] == sorted(TYPES)
    assert set(create["required"]) == {"type", "payload"}
    # The payload is one of the per-type schemas, each a documented component.
    refs = {one["$ref"].rsplit("/", 1)[1] for one in create["properties"]["payload"]["oneOf"]}
    assert refs == {"Payload_" + name.replace(".", "_") for name in TYPES} <= set(schemas)
    invoice = schemas["Payload_accounting_invoice"]
    assert {"vendor", "invoice_number", "lines", "totals"} <= set(invoice["properties"])
    # Money is a decimal string, never a float.
    totals = schemas[invoice["properties"]["totals"]["$ref"].rsplit("/", 1)[1]]
    assert totals["properties"]["total"] == {"type": "string", "format": "decimal"}
    assert set(schemas["ErrorEnvelope"]["properties"]) == {"error"}
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "fields"}
    assert "payload" not in schemas["TaskSummary"]["properties"]


def test_list_parameters_are_the_list_schema(served):
    params = {p["name"]: p for p in served["paths"]["/tasks"]["get"]["parameters"]}
    assert set(params) == set(TaskListArgs().fields)
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert params["status"]["schema"]["type"] == "array" and params["status"]["explode"]
    assert params["limit"]["schema"]["maximum"] == 200


def test_error_statuses_are_documented(served):
    paths = served["paths"]
    assert {"400", "422"} <= set(paths["/tasks"]["post"]["responses"])
    assert {"400", "422"} <= set(paths["/tasks/batch"]["post"]["responses"])
    assert "422" in paths["/tasks"]["get"]["responses"]
    assert "409" in paths["/tasks/{task_id}/cancel"]["post"]["responses"]
    assert "409" in paths["/tasks/{task_id}/messages"]["post"]["responses"]
    assert "404" in paths["/tasks/{task_id}/attachments/{attachment_id}"]["get"]["responses"]
    upload = paths["/attachments"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file"]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0
        self.ids: set[str] = set()
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.scripts += tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if found.get("id"):
            self.ids.add(found["id"] or "")
        if tag == "a" and (found.get("href") or "").startswith("#"):
            self.anchors.append((found["href"] or "")[1:])


def test_the_docs_page_lists_every_operation_without_a_token_or_cdn(client, world, served):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    page = _Page()
    page.feed(html)
    # Nothing from another host, no script at all.
    assert page.scripts == 0
    assert all(not re.match(r"^(https?:)?//", url) for url in page.urls), page.urls
    # Every operation has its section, with its parameters, body fields and responses.
    for path, ops in served["paths"].items():
        for method, op in ops.items():
            assert f"{method}-{path}" in page.ids
            section = html.split(f'id="{method}-{path}"', 1)[1].split("</section>", 1)[0]
            for param in op.get("parameters", []):
                assert f"<code>{param['name']}</code>" in section, (method, path, param)
            for status in op["responses"]:
                assert f"<code>{status}</code>" in section, (method, path, status)
    create = html.split('id="post-/tasks"', 1)[1].split("</section>", 1)[0]
    for field in TaskCreateArgs().fields:
        assert f"<code>{field}</code>" in create
    # Every schema has its section, and every in-page link lands somewhere.
    assert {f"schema-{name}" for name in served["components"]["schemas"]} <= page.ids
    assert set(page.anchors) <= page.ids
    assert "Bearer &lt;token&gt;" in html


def test_the_document_and_docs_need_no_token_but_a_bad_one_is_ignored(client, world):
    for url in ("/api/v1/openapi.json", "/api/v1/docs"):
        assert client.get(url).status_code == 200
        assert client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 200
    assert client.get("/api/v1/tasks").status_code == 401

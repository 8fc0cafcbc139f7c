"""The OpenAPI document: generated from the code, committed in docs/, and its docs page."""

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_openapi_document_describes_the_api(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/auth/login" in spec["paths"]
    assert "/api/v1/users" in spec["paths"]
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert "#/components/schemas/Login" in str(login["requestBody"])
    assert "422" not in login["responses"]


def test_the_committed_document_is_the_generated_one(client: FlaskClient) -> None:
    generated = client.get("/api/openapi.json").get_json()
    committed = json.loads(COMMITTED.read_text())
    assert generated == committed, (
        "the API changed: run `mdm openapi write docs/openapi.json` and review the diff"
    )


def test_every_error_is_declared_as_problem_json(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    responses = spec["components"]["responses"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            # The HTTP server's own answer, before the service sees the request, is HTML; the
            # service answers a request line that is too long (414) itself.
            server = {"431"}
            assert server | {"414"} <= set(operation["responses"]), (method, path)
            for status, response in operation["responses"].items():
                if status in server:
                    name = response["$ref"].rsplit("/", 1)[1]
                    assert list(responses[name]["content"]) == ["text/html"]
                elif status == "default" or int(status) >= 400:
                    name = response["$ref"].rsplit("/", 1)[1]
                    assert list(responses[name]["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


def test_operations_declare_what_their_shape_and_logins_imply(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    users = paths["/api/v1/users/{user_id}"]
    assert {"401", "403", "404"} <= set(users["get"]["responses"])
    assert {"400", "401", "403", "404", "413", "415"} <= set(users["patch"]["responses"])
    assert {"401", "410"} <= set(paths["/api/agent/v1/checkin"]["post"]["responses"])
    assert "401" not in paths["/api/v1/panel/{secret}"]["get"]["responses"]


def test_docs_page(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.get_data(as_text=True)


def test_every_logged_in_operation_declares_its_login(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if "401" in operation["responses"] and path != "/api/v1/auth/login":
                assert operation.get("security"), (method, path)
    assert paths["/api/v1/users"]["get"]["security"] == [{"userLogin": []}]
    assert paths["/api/v1/auth/refresh"]["post"]["security"] == [{"refreshToken": []}]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    assert paths["/api/v1/panel/{secret}"]["get"]["security"] == []


def test_nullable_fields_are_declared_nullable(client: FlaskClient) -> None:
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert "null" in schemas["User"]["properties"]["last_login_at"]["type"]


def test_booleans_in_bodies_are_json_booleans(app) -> None:
    """`"1"` or `"no"` in a JSON body is a 400, not a guess: every body's booleans are
    JsonBoolean (query parameters, which are text, keep marshmallow's Boolean)."""
    lax = []
    for endpoint, view in app.view_functions.items():
        while view is not None and not hasattr(view, "_apidoc"):
            view = getattr(view, "__wrapped__", None)
        for argument in (view._apidoc.get("arguments", {}) if view else {}).get("parameters", []):
            if argument["in"] != "json":
                continue
            lax += [f"{endpoint}: {name}" for name in _lax_booleans(argument["schema"])]
    assert lax == []


def _lax_booleans(schema: Any, prefix: str = "") -> list[str]:
    """The marshmallow Booleans in a schema, nested schemas and lists included."""
    from marshmallow import fields

    from mdm.platform.schemas import JsonBoolean

    schema = schema() if isinstance(schema, type) else schema
    found = []
    for name, field in schema.fields.items():
        while isinstance(field, fields.List):
            field = field.inner
        if field.dump_only or isinstance(field, JsonBoolean):
            continue
        if isinstance(field, fields.Boolean):
            found.append(prefix + name)
        elif isinstance(field, fields.Nested):
            found += _lax_booleans(field.schema, f"{prefix}{name}.")
    return found

"""The OpenAPI document and its docs page."""

from flask.testing import FlaskClient


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


def test_docs_page(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.get_data(as_text=True)

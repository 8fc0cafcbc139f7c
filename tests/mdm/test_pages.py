"""The service's own pages: the favicon and the API docs."""

import re

from flask.testing import FlaskClient


def test_the_api_docs_load_only_what_the_service_serves(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "//" not in html  # nothing from another host: no CDN
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert 'data-url="/api/openapi.json"' in html


def test_only_swagger_uis_own_files_are_served(client: FlaskClient) -> None:
    script = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.mimetype.endswith("javascript")
    assert client.get("/api/docs/assets/LICENSE").status_code == 404
    assert client.get("/api/docs/assets/..%2F__init__.py").status_code == 404


def test_the_favicon(client: FlaskClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").mimetype == "image/svg+xml"


def test_the_start_page_is_german_and_links_the_panel_and_the_api_docs(
    client: FlaskClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="de">' in html and page.headers["Content-Language"] == "de"
    assert '<a href="/panel">Vertretungsplan</a>' in html
    assert '<a href="/api/docs">API-Dokumentation</a>' in html
    assert '<a href="/docs/agent-protocol">Agent-Protokoll</a>' in html


def test_the_start_page_speaks_english_to_who_prefers_it(client: FlaskClient) -> None:
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Substitution plan" in english.get_data(as_text=True)
    assert "Substitution plan" in client.get("/?lang=en").get_data(as_text=True)
    french = client.get("/", headers={"Accept-Language": "fr-FR,fr"}).get_data(as_text=True)
    assert '<html lang="de">' in french

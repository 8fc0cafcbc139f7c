"""The service's own pages: the favicon and the API docs (Swagger UI from the flask-swagger-ui
package, so they work without internet)."""

from importlib.resources import files

from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory

pages = Blueprint("pages", __name__)
# Swagger UI's files, as the flask-swagger-ui package ships them; only these two are served.
SWAGGER_UI = files("flask_swagger_ui") / "dist"
SWAGGER_UI_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")


@pages.route("/favicon.ico")
def favicon() -> Response:
    """The icon browsers ask for (the pages also name favicon.svg)."""
    return send_from_directory(str(current_app.static_folder), "favicon.ico")


@pages.route("/api/docs")
def api_docs() -> str:
    """The API's documentation: Swagger UI reading /api/openapi.json."""
    return render_template("mdm/api_docs.html")


@pages.route("/api/docs/assets/<name>")
def api_docs_asset(name: str) -> Response:
    """One of Swagger UI's files."""
    if name not in SWAGGER_UI_ASSETS:
        abort(404)
    return send_from_directory(str(SWAGGER_UI), name)

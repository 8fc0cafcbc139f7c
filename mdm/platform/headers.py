"""The security headers of every answer, set in one place (after every request).

Every answer: `X-Content-Type-Options: nosniff` (a browser never guesses another type than the
one sent) and `Referrer-Policy: no-referrer` (enrollment and panel-link URLs carry secrets).
An HTML page: a Content-Security-Policy that loads scripts, styles, images and API calls from
the service only, and lets no other site frame the page (`frame-ancestors 'none'`). A page that
needs an inline script or style asks for this request's nonce (`csp_nonce()`); one whose form
leads on to an app's own URL scheme (a login that hands a device its token) names that scheme
(`allow_form_action()`). Everything else (JSON, images, feeds, files): a policy under which
nothing runs and nothing frames it.
"""

import secrets

from flask import Flask, Response, g

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'{nonce}; style-src 'self'{nonce}; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'{actions}; "
    "frame-ancestors 'none'"
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"


def csp_nonce() -> str:
    """This request's nonce for the page's inline scripts and styles (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def allow_form_action(source: str) -> None:
    """Let this page's forms also lead to `source` (e.g. `scheme:`, where the answer to the
    form redirects)."""
    g.csp_form_actions = (*g.get("csp_form_actions", ()), source)


def content_security_policy(
    mimetype: str | None, nonce: str | None, form_actions: tuple[str, ...] = ()
) -> str:
    """The policy of an answer of this type."""
    if mimetype != "text/html":
        return OTHER_POLICY
    return PAGE_POLICY.format(
        nonce=f" 'nonce-{nonce}'" if nonce else "",
        actions="".join(f" {source}" for source in form_actions),
    )


def add_security_headers(response: Response) -> Response:
    """Set the security headers of this answer, whichever view or error handler made it."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Taken off `g`: a test's app context outlives its requests, a nonce must not.
    response.headers["Content-Security-Policy"] = content_security_policy(
        response.mimetype, g.pop("csp_nonce", None), g.pop("csp_form_actions", ())
    )
    return response


def init_app(app: Flask) -> None:
    """Add the headers after every request (registered before the request's commit, so they
    run after it and also reach the problem it may answer)."""
    app.after_request(add_security_headers)

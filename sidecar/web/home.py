"""GET /: what this server is, for whoever opens its address — a short page for a browser (English
or French, after the browser's languages; both when it names neither), one JSON object for an API
client. Nothing here is secret or read from the database: it is the same for every visitor."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from .. import i18n

bp = Blueprint("home", __name__)

# Where the documentation lives: the project's home, as the bridge plugin's header names it.
PROJECT_URL = "https://github.com/farewell/farewell"


def _words(language: str):
    return i18n.section(language, "home")


@bp.get("/")
def home():
    # A browser names text/html; curl's */*, an API client or no Accept at all get JSON.
    accept = request.accept_mimetypes
    if accept["text/html"] > accept["application/json"]:
        response = _page()
    else:
        response = jsonify(service="farewell", description=_words("en")["what"],
                           dashboard="opens from WordPress: Farewell → Open dashboard",
                           openapi="/openapi.json", health="/healthz", docs=PROJECT_URL)
    response.headers["Vary"] = "Accept, Accept-Language"
    # As strict as the other pages: no script, no framing, nothing loaded from elsewhere.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _page():
    language = request.accept_languages.best_match(i18n.LANGUAGES)
    copies = [_words(language)] if language else [_words("en"), _words("fr")]
    return current_app.response_class(
        render_template("home.html", lang=language or "en", copies=copies, project=PROJECT_URL,
                        openapi="/openapi.json"),
        mimetype="text/html")

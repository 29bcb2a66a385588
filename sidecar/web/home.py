"""GET /: what this server is, for whoever opens its address — a short page for a browser (English
or French, after the browser's languages; both when it names neither), one JSON object for an API
client. Nothing here is secret or read from the database: it is the same for every visitor."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

bp = Blueprint("home", __name__)

# Where the documentation lives: the project's home, as the bridge plugin's header names it.
PROJECT_URL = "https://github.com/farewell/farewell"

_COPY = {
    "en": {
        "title": "Farewell sidecar",
        "what": "This server is the Farewell sidecar of a membership site: it receives cancellations from the "
                "Farewell Bridge WordPress plugin, keeps the exit-survey answers, sends a few respectful "
                "follow-up emails and serves the owner's dashboard.",
        "dashboard": "The dashboard opens from WordPress: in wp-admin, go to Farewell and press “Open dashboard”.",
        "docs": "Documentation: the README and the docs folder of Farewell, at",
        "api": "This server’s API is described at",
    },
    "fr": {
        "title": "Sidecar Farewell",
        "what": "Ce serveur est le sidecar Farewell d’un site d’abonnement : il reçoit les résiliations de "
                "l’extension WordPress Farewell Bridge, garde les réponses au questionnaire de départ, envoie "
                "quelques e-mails de suivi respectueux et sert le tableau de bord du propriétaire.",
        "dashboard": "Le tableau de bord s’ouvre depuis WordPress : dans l’administration, menu Farewell, "
                     "bouton « Ouvrir le tableau de bord ».",
        "docs": "Documentation : le README et le dossier docs de Farewell, sur",
        "api": "L’API de ce serveur est décrite dans",
    },
}


@bp.get("/")
def home():
    # A browser names text/html; curl's */*, an API client or no Accept at all get JSON.
    accept = request.accept_mimetypes
    if accept["text/html"] > accept["application/json"]:
        response = _page()
    else:
        response = jsonify(service="farewell", description=_COPY["en"]["what"],
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
    language = request.accept_languages.best_match(["en", "fr"])
    copies = [_COPY[language]] if language else [_COPY["en"], _COPY["fr"]]
    return current_app.response_class(
        render_template("home.html", lang=language or "en", copies=copies, project=PROJECT_URL,
                        openapi="/openapi.json"),
        mimetype="text/html")

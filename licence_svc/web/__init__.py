"""HTTP surface: the app factory. Views are thin: parse, call one service, render."""

from __future__ import annotations

import logging

from flask import Flask, request

from ..config import PROJECT_ROOT, Settings
from ..services.connection import close_connection, open_connection, release_connection
from ..services import audit
from ..services.platform import Platform
from ..services.setup import has_demo_departments
from . import api_docs, api_document, bodies, checks_api, department_api, headers, holder_pages, matters_api, pages, problems, public, shares_api, verify_api
from .department_api import MAX_BATCH_BYTES

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = MAX_BATCH_BYTES  # largest upload: a batch; each endpoint caps its own body lower


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; refuses to start when private keys are missing or readable by others."""
    platform = Platform.open(settings)
    platform.check_ready()
    app = Flask(
        __name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder=str(PROJECT_ROOT / "static"), static_url_path="/static"
    )
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["JSON_AS_ASCII"] = False
    app.extensions["licence_platform"] = platform
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answers keep the order they were built in; sorting cost a check 14 µs

    problems.register(app)
    headers.register(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(verify_api.bp)
    app.register_blueprint(department_api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api_document.bp)
    app.register_blueprint(api_docs.bp)
    app.register_blueprint(shares_api.bp)
    app.register_blueprint(checks_api.bp)
    app.register_blueprint(matters_api.bp)
    app.register_blueprint(holder_pages.bp)
    app.extensions[bodies.SCHEMAS] = bodies.BodySchemas(api_document.document(platform.settings.base_url))

    @app.before_request
    def _connect() -> None:
        if request.endpoint not in ("public.health", "public.favicon", "static"):  # these must not depend on the database
            open_connection()

    @app.teardown_request
    def _release(_exc: BaseException | None) -> None:
        release_connection()

    if platform.settings.background_sealer:
        app.extensions["audit_sealer"] = audit.Sealer(platform).start()
    if has_demo_departments():
        log.warning("DEMO departments and keys are in use: never issue real licences with them")
    close_connection()  # start-up checks opened a connection: a worker forked from this process must not share it
    return app

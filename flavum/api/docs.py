"""Interactive API docs served offline: Swagger UI at `/docs`, ReDoc at `/redoc`.

FastAPI's own pages load their scripts from a CDN, so they are blank on a machine without the
internet. The scripts here come from the `fastapi-offline` package (a packaged copy of
swagger-ui-dist and ReDoc's standalone bundle) and are served by the node itself.
"""

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/docs"
ASSETS_DIR = str(files("fastapi_offline") / "static")


def add_offline_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets (the app is made with docs_url=redoc_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=favicon)

    @app.get("/redoc", response_class=HTMLResponse, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title}: API reference",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=favicon,
            with_google_fonts=False)

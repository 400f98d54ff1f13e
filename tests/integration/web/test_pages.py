"""Security headers everywhere, the static front end, and the OpenAPI document kept true."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ratchet.web import WebServer
from ratchet.web.openapi import document
from ratchet.web.security import HEADERS

Client = Any  # the fixture's type (see conftest.py)
STATIC = Path(__file__).resolve().parents[3] / "src" / "ratchet" / "web" / "static"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/static/js/main.js", 200),
        ("GET", "/static/vendor/uplot/uPlot.iife.min.js", 200),
        ("GET", "/api/portfolio", 401),
        ("GET", "/api/openapi.json", 200),
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/static/nothing.js", 404),
        ("POST", "/api/login", 400),
        ("GET", "/ws", 401),
    ],
)
async def test_every_response_carries_the_security_headers(
    clients: Callable[..., Client], method: str, path: str, status: int
) -> None:
    client = clients()
    response = await (client.get(path) if method == "GET" else client.post(path, {}, csrf=False))
    assert response.status == status
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    if path.startswith("/api/"):
        assert response.headers["Cache-Control"] == "no-store"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self.styles: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
        if tag == "style" or "style" in named:
            self.styles.append(tag)
        self.inline_handlers += [k for k in named if k.startswith("on")]
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def test_the_page_has_no_inline_script_no_inline_style_and_nothing_from_elsewhere() -> None:
    page = _Scripts()
    page.feed((STATIC / "index.html").read_text())
    assert page.scripts, "the page loads its scripts"
    assert all(script.get("src") for script in page.scripts)
    assert page.inline_handlers == []
    assert page.styles == []
    assert all(link.startswith(("/", "#")) for link in page.links), page.links
    for source in STATIC.rglob("*.js"):
        text = source.read_text()
        assert "innerHTML" not in text, source  # elements are built with textContent only
        assert not re.search(r"https?://", text), source  # nothing fetched from elsewhere


async def test_the_vendored_chart_library_is_served_locally(
    clients: Callable[..., Client],
) -> None:
    client = clients()
    script = await client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert script.content_type in ("application/javascript", "text/javascript")
    assert b"uPlot" in await script.read()
    css = await client.get("/static/vendor/uplot/uPlot.min.css")
    assert css.content_type == "text/css"
    assert (await client.get("/static/vendor/__init__.py")).status == 404
    assert (await client.get("/static/../server.py")).status in (403, 404)


def _app_routes(server: WebServer) -> set[tuple[str, str]]:
    found = set()
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD" and path != "/":
            found.add((route.method.lower(), path))
    return found


async def test_every_route_is_documented_and_every_documented_route_exists(
    server: WebServer,
) -> None:
    doc = document()
    documented = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert _app_routes(server) == documented


def test_the_documented_request_bodies_are_valid_json_schemas() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.")
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"], (path, method)
            assert operation["responses"], (path, method)
            body = operation.get("requestBody")
            if body:
                Draft202012Validator.check_schema(body["content"]["application/json"]["schema"])
            for part in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == part for p in item.get("parameters", [])), (path, part)
    refs = re.findall(r'"#/components/schemas/(\w+)"', str(doc).replace("'", '"'))
    assert set(refs) <= set(doc["components"]["schemas"])


async def test_the_openapi_document_is_served(clients: Callable[..., Client]) -> None:
    response = await clients().get("/api/openapi.json")
    assert await response.json() == document()

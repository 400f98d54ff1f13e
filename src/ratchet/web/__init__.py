"""The web GUI and API: aiohttp, encrypted session cookies, CSRF, roles, a WebSocket of snapshots.

==================  ==================================================================
module              what it holds
==================  ==================================================================
``server``          :func:`start_web`, the routes, :class:`WebServer`
``auth``            sessions, roles, CSRF; login / logout / session endpoints
``api``             the REST endpoints over the engine control
``ws``              ``/ws``: snapshots pushed to browsers, slow clients dropped
``metrics``         ``/metrics``: a Prometheus collector reading the engine
``openapi``         the OpenAPI document (kept true by a test)
``schemas``         JSON schemas of request bodies and their validation
``users``           the ``users`` table: argon2id hashes, password policy, roles
``throttle``        login throttling per user and per address
``secret``          the session secret (environment, or a 0600 file made once)
``security``        security headers and JSON errors
``static/``         the single-page front end (ES modules, no build step)
==================  ==================================================================
"""

from ratchet.web.context import WebSettings
from ratchet.web.server import WebConfigError, WebServer, start_web

__all__ = ["WebConfigError", "WebServer", "WebSettings", "start_web"]

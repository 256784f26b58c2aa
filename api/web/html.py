"""The HTML shell every server-rendered page shares: local styles and scripts only, so the
page works under the CSP that allows nothing remote (api/headers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from starlette.responses import HTMLResponse


def document(
    title: str, body: str, *, styles: Sequence[str], scripts: Sequence[str], status: int = 200
) -> HTMLResponse:
    """`body` is markup the caller built with escape(); asset names are under /assets/."""
    links = "".join(f'<link rel="stylesheet" href="/assets/{name}">' for name in styles)
    tags = "".join(f'<script src="/assets/{name}" defer></script>' for name in scripts)
    return HTMLResponse(
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{links}{tags}</head>"
        f"<body>{body}</body></html>",
        status_code=status,
    )


def page(title: str, content: str, *, status: int = 200) -> HTMLResponse:
    """A sign-in, account or consent page: one main landmark, one heading, a live status line
    the scripts write refusals into (read out by screen readers)."""
    body = (
        f"<main><h1>{escape(title)}</h1>{content}"
        '<p id="status" role="status" aria-live="polite"></p></main>'
    )
    return document(title, body, styles=["pages.css"], scripts=["pages.js"], status=status)


def graphiql_page() -> HTMLResponse:
    body = '<div id="graphiql">Loading…</div>'
    return document(
        "phigate GraphiQL",
        body,
        styles=["vendor/graphiql.min.css", "graphiql.css"],
        scripts=[
            "vendor/react.production.min.js",
            "vendor/react-dom.production.min.js",
            "vendor/graphiql.min.js",
            "graphiql-init.js",
        ],
    )

"""ASGI entry point for uvicorn (`api.main:app_from_env`, a factory), used by `phigate serve`."""

from __future__ import annotations

from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings


def app_from_env() -> Starlette:
    return create_app(Settings.from_env(), serving=True)

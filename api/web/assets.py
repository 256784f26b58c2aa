"""`/assets/*`: the pages' own scripts and styles, and (development only) the vendored
GraphiQL bundle. Read once at startup from the package; nothing else on disk is reachable."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
IDE_ONLY = "vendor/"
"""GraphiQL and what it needs: served only where the IDE is (not in production)."""


class Assets:
    def __init__(self, ide: bool) -> None:
        self._files = {
            path.relative_to(STATIC).as_posix(): (path.read_bytes(), _TYPES[path.suffix])
            for path in sorted(STATIC.rglob("*"))
            if path.suffix in _TYPES
            and (ide or not path.relative_to(STATIC).as_posix().startswith(IDE_ONLY))
        }

    def routes(self) -> list[Route]:
        return [Route("/assets/{name:path}", self.serve, methods=["GET"])]

    async def serve(self, request: Request) -> Response:
        found = self._files.get(request.path_params["name"])
        if found is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        body, media_type = found
        return Response(body, media_type=media_type)

"""The request-decoding layer: a request's text reaches an endpoint well formed, or not at all.

Every endpoint used to parse its own body, and each caught a different subset of what parsing
can raise (a `[` nested 5,000 deep is a RecursionError, a 5,000-digit number a ValueError
about integer conversion, `null` a body with no `.get`): anything it missed was a 500. Here one
middleware reads and checks every JSON or form body and every query string before routing,
and the endpoints take the decoded value from it (`json_body`, `form_pairs`). The same checks
apply to JSON that arrives another way (GraphQL's `variables` in a GET query string), through
`parse_json`.

Text is refused if it holds NUL or a lone surrogate, in any key or value: PostgreSQL text
cannot store NUL (the driver's error looked like a database outage, a 503), and a lone
surrogate cannot be encoded as UTF-8, so hashing, storing or logging it fails deep inside.

A refusal names the rule broken (`reason`), never the submitted value: it may be PHI.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_DEPTH = 32
"""Nesting of arrays and objects: phigate's deepest input (GraphQL variables) needs a handful."""
MAX_NUMBER_DIGITS = 100
"""Longer integers are not identifiers or counts; Python would refuse over 4,300 anyway."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATE_JSON = "decoded_json"
_STATE_FORM = "decoded_form"


class Malformed(Exception):
    """A request whose body, encoding or text phigate refuses to read."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def check_text(text: str) -> None:
    if "\x00" in text:
        raise Malformed("nul_character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Malformed("lone_surrogate") from None


def _check_value(value: Any) -> None:
    """Every string (keys too) is valid text, and nothing nests deeper than MAX_DEPTH. A loop,
    not recursion: the value's depth is what is being checked."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise Malformed("too_deeply_nested")
            if isinstance(item, dict):
                for key in item:
                    check_text(key)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise Malformed("number_too_long")
    return int(digits)


def _not_json(constant: str) -> Any:
    raise Malformed("invalid_json")  # NaN and Infinity are Python's, not JSON's


def parse_json(data: bytes | str) -> Any:
    """Strict UTF-8 JSON under the rules above, or `Malformed`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise Malformed("invalid_utf8") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_constant=_not_json)
    except RecursionError:
        raise Malformed("too_deeply_nested") from None
    except ValueError:
        raise Malformed("invalid_json") from None
    _check_value(value)
    return value


def parse_form(data: bytes | str) -> list[tuple[str, str]]:
    """`application/x-www-form-urlencoded` (or a query string): percent-escapes must decode
    to strict UTF-8 text."""
    try:
        text = data.decode("ascii") if isinstance(data, bytes) else data
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeError:
        raise Malformed("invalid_utf8") from None
    except ValueError:
        raise Malformed("invalid_form") from None
    for name, value in pairs:
        check_text(name)
        check_text(value)
    return pairs


def _media_type(headers: Headers) -> tuple[str, str | None]:
    """The media type and its charset parameter, if any."""
    media, *params = headers.get("content-type", "").split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def json_body(request: Request) -> Any:
    """The request's JSON body, decoded and checked by `RequestDecoding`. Only a request
    declared as JSON has one; endpoints check the content type before asking."""
    state = request.scope.get("state", {})
    if _STATE_JSON not in state:
        raise Malformed("content_type_must_be_json", 415)
    return state[_STATE_JSON]


def form_pairs(request: Request) -> list[tuple[str, str]]:
    state = request.scope.get("state", {})
    if _STATE_FORM not in state:
        raise Malformed("content_type_must_be_form", 415)
    pairs: list[tuple[str, str]] = state[_STATE_FORM]
    return pairs


def is_json(request: Request) -> bool:
    return _media_type(request.headers)[0] == JSON


def error_response(path: str, status: int, reason: str, request_id: str | None) -> JSONResponse:
    """A refusal in the shape the endpoint's clients read: GraphQL's `errors`, OAuth's
    `error`/`error_description` (RFC 6749 5.2), or phigate's `{"error": ...}`."""
    body: dict[str, Any]
    if path == "/graphql":
        code = _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
        if reason in {"nul_character", "lone_surrogate"}:
            code = "BAD_USER_INPUT"
        extensions = {"code": code, "reason": reason, "request_id": request_id}
        message = _MESSAGES.get(status, "Bad request")
        body = {"errors": [{"message": message, "extensions": extensions}]}
    elif path.startswith("/oauth/"):
        error = "server_error" if status >= 500 else "invalid_request"
        body = {"error": error, "error_description": reason}
    else:
        body = {"error": reason}
    return JSONResponse(body, status_code=status)


_MESSAGES = {
    400: "Bad request",
    403: "Not permitted",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request body too large",
    415: "Unsupported media type",
    500: "Internal error",
}
_CODES = {403: "FORBIDDEN", 404: "NOT_FOUND"}


class TrackedSend:
    """`send`, remembering whether the response has started: once it has, no error response
    can replace it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


class RequestDecoding:
    """Reads and checks each request's query string and JSON or form body before routing; the
    body is then replayed, unchanged, to whatever reads it downstream. It runs inside BodyLimit,
    which bounds what it reads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            replay = await self._decode(scope, receive)
            await self.app(scope, replay, tracked)
        except Malformed as exc:
            # Also what a downstream decoder raises (parse_json of a query parameter).
            if tracked.started:
                raise
            request_id = scope.get("state", {}).get("request_id")
            response = error_response(scope["path"], exc.status, exc.reason, request_id)
            await response(scope, receive, send)

    async def _decode(self, scope: Scope, receive: Receive) -> Receive:
        parse_form(scope.get("query_string", b""))
        headers = Headers(scope=scope)
        media, charset = _media_type(headers)
        if scope["method"] not in _BODY_METHODS or media not in {JSON, FORM}:
            return receive
        if charset not in {None, "utf-8", "utf8"}:
            raise Malformed("charset_must_be_utf8", 415)
        body = await _read_body(receive)
        state = scope.setdefault("state", {})
        if media == JSON:
            value = parse_json(body)
            if not isinstance(value, dict):
                raise Malformed("invalid_json")  # every JSON body phigate reads is an object
            state[_STATE_JSON] = value
        else:
            state[_STATE_FORM] = parse_form(body)
        return _replaying(body, receive)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Malformed("incomplete_body")  # the client went away mid-body
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay

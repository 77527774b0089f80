"""Request/response objects and a tiny path router (404 unknown path, 405 wrong verb)."""
from dataclasses import dataclass, field
from urllib.parse import unquote

from . import errors


@dataclass
class Request:
    """One parsed API call as seen by the endpoint handlers."""

    method: str
    path: str
    query: dict
    body: object
    caller: object
    app: object
    params: dict = field(default_factory=dict)
    headers: object = field(default_factory=dict)

    def accepts(self, media_type):
        """True if the ``Accept`` header names ``media_type``."""
        return media_type in self.headers.get("Accept", "")

    @property
    def store(self):
        """The app's store."""
        return self.app.store

    def json_object(self):
        """The JSON body as a dict (``{}`` when empty); 400 if it is not an object."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise errors.bad_request("The request body must be a JSON object", code=errors.MALFORMED_BODY)
        return self.body


@dataclass
class Response:
    """What a handler answers: a JSON-able ``body`` (or ``raw`` bytes) with a status."""

    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    raw: bytes = None
    content_type: str = "application/json"


class Router:
    """Ordered (methods, pattern, handler) routes; ``{name}`` matches one path segment."""

    def __init__(self):
        self._routes = []

    def add(self, methods, pattern, handler):
        """Register ``handler`` for ``methods`` (str or iterable) on ``pattern``."""
        methods = {methods} if isinstance(methods, str) else set(methods)
        self._routes.append((methods, pattern.strip("/").split("/"), handler))

    @staticmethod
    def _match(parts, segments):
        """Path params if ``segments`` fit ``parts``, else None."""
        if len(parts) != len(segments):
            return None
        params = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    return None
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params

    def resolve(self, method, path):
        """``(handler, params)`` for a call; ApiError 404/405 otherwise."""
        segments = [unquote(s) for s in path.strip("/").split("/")]
        allowed = set()
        for methods, parts, handler in self._routes:
            params = self._match(parts, segments)
            if params is None:
                continue
            if method in methods:
                return handler, params
            allowed |= methods
        if allowed:
            raise errors.ApiError(405, errors.METHOD_NOT_ALLOWED, f"Method {method} not allowed on {path}",
                                  {"method": method, "allowed": sorted(allowed)},
                                  headers={"Allow": ", ".join(sorted(allowed))})
        raise errors.not_found(f"No such endpoint: {path}", path=path)

"""Routes from (method, path) to one handler per endpoint, as the RIE's chi routers do.

The Runtime API, and later the Extensions and Telemetry APIs, register their handlers on
one Router; a template segment `{name}` matches one non-empty path segment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ember.runtime_api.messages import NOT_FOUND, Reply, Request
from ember.runtime_api.streaming import ResponseStream

# A handler answers at once with a Reply, or returns None having parked the request
# (it answers later through request.reply()).
Handler = Callable[[Request, Mapping[str, str]], Reply | None]
# Asked, from a request's path parameters, before it may send a body up to the response
# limit: raises the RequestRejectedError its handler would answer (a request id not handed
# out, a state that takes no result), so such a body is refused unread.
LargeBodyCheck = Callable[[Mapping[str, str]], None]
# Asked, from a request's path parameters and headers, once the head of a request in
# streaming mode is parsed: the stream its body goes to as it arrives, None to buffer the
# body as usual, or the RequestRejectedError its handler would answer.
StreamOpener = Callable[[Mapping[str, str], Mapping[bytes, bytes]], ResponseStream | None]

_NO_PARAMS: Mapping[str, str] = {}


def _not_found(request: Request, params: Mapping[str, str]) -> Reply:
    return NOT_FOUND


class _MethodNotAllowed:
    """Go's 405 for a known path asked with another method."""

    def __init__(self, methods: Mapping[str, Handler]) -> None:
        self._reply = Reply(405, b"", b"Allow: %s\r\n" % ", ".join(sorted(methods)).encode())

    def __call__(self, request: Request, params: Mapping[str, str]) -> Reply:
        return self._reply


class _Template:
    """A path with `{name}` segments, and its handler per method."""

    def __init__(self, template: str) -> None:
        self.segments = template.split("/")
        # index -> parameter name, for the segments that are placeholders
        self.names = {
            i: s[1:-1] for i, s in enumerate(self.segments) if s.startswith("{") and s.endswith("}")
        }
        self.methods: dict[str, Handler] = {}

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for i, (want, got) in enumerate(zip(self.segments, segments, strict=True)):
            name = self.names.get(i)
            if name is None:
                if want != got:
                    return None
            elif not got:
                return None
            else:
                params[name] = got
        return params


class Router:
    """(method, path) -> handler. Static paths are one dict lookup; templates are scanned."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Handler]] = {}
        self._templates: dict[str, _Template] = {}
        # handler -> its check, for those that take bodies up to the endpoint's response
        # limit; others take little.
        self._large: dict[Handler, LargeBodyCheck] = {}
        # handler -> its opener, for those whose body may be streamed through.
        self._streams: dict[Handler, StreamOpener] = {}

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        large_body: LargeBodyCheck | None = None,
        stream: StreamOpener | None = None,
    ) -> None:
        if "{" in template:
            route = self._templates.get(template)
            if route is None:
                route = self._templates[template] = _Template(template)
            methods = route.methods
        else:
            methods = self._static.setdefault(template, {})
        if method in methods:
            raise ValueError(f"route {method} {template} is already registered")
        methods[method] = handler
        if large_body is not None:
            self._large[handler] = large_body
        if stream is not None:
            self._streams[handler] = stream

    def admit_large_body(self, method: str, path: str) -> bool:
        """Whether a request may send a body up to the response limit now: False when its
        route takes only small ones; RequestRejectedError when its handler would refuse it."""
        handler, params = self.resolve(method, path)
        check = self._large.get(handler)
        if check is None:
            return False
        check(params)
        return True

    def open_stream(
        self, method: str, path: str, headers: Mapping[bytes, bytes]
    ) -> ResponseStream | None:
        """Where the body of a request in streaming mode goes as it arrives: None when its
        route streams nothing now (the body is then read whole); RequestRejectedError when
        its handler would refuse it."""
        handler, params = self.resolve(method, path)
        opener = self._streams.get(handler)
        return None if opener is None else opener(params, headers)

    def resolve(self, method: str, path: str) -> tuple[Handler, Mapping[str, str]]:
        """The handler for a request and its path parameters (404 / 405 handlers on a miss)."""
        methods = self._static.get(path)
        params = _NO_PARAMS
        if methods is None:
            segments = path.split("/")
            for route in self._templates.values():
                matched = route.match(segments)
                if matched is not None:
                    methods, params = route.methods, matched
                    break
            else:
                return _not_found, _NO_PARAMS
        handler = methods.get(method)
        if handler is None:
            return _MethodNotAllowed(methods), _NO_PARAMS
        return handler, params

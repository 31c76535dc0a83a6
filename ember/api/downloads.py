"""Ember's internal download links: a function's code (GetFunction's Code.Location) and a
layer version's content (Content.Location), served only to holders of a link signed by
protocols.links, as S3 serves a presigned URL. No Lambda API operation lives here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ember.control import FunctionService
from ember.control.layers import LayerService
from ember.errors import ResourceNotFoundError
from ember.protocols.links import LinkSigner

# The paths the Functions and Layers routes sign (api/auth.py lets them through unsigned
# by SigV4, since the link carries its own signature).
CODE_PATH = "/_ember/code/{digest}"
LAYER_CODE_PATH = "/_ember/layer-code/{digest}"
_NOT_FOUND = "The resource you requested does not exist."


class DownloadRoutes:
    def __init__(
        self, functions: FunctionService, layers: LayerService | None, links: LinkSigner
    ) -> None:
        self._functions = functions
        self._layers = layers
        self._links = links

    def routes(self) -> list[Route]:
        routes = [Route(CODE_PATH, self.function_code, methods=["GET"])]
        if self._layers is not None:
            routes.append(Route(LAYER_CODE_PATH, self.layer_content, methods=["GET"]))
        return routes

    async def function_code(self, request: Request) -> Response:
        """The zip of any function or version whose code has this digest."""
        digest = request.path_params["digest"]
        self._links.check(request.url.path, request.url.query)
        for config in [*self._functions.list(), *self._functions.all_versions()]:
            if config.code_digest == digest:
                return FileResponse(self._functions.blob_path(digest), media_type="application/zip")
        raise ResourceNotFoundError(_NOT_FOUND)

    async def layer_content(self, request: Request) -> Response:
        """The zip of a layer version with this content digest."""
        assert self._layers is not None  # routed only with layers
        self._links.check(request.url.path, request.url.query)
        path = self._layers.blob_path(request.path_params["digest"])
        if path is None:
            raise ResourceNotFoundError(_NOT_FOUND)
        return FileResponse(path, media_type="application/zip")

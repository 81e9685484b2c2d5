"""The studio's HTTP layer: FastAPI routes over `Studio`, one static page, and `serve` (uvicorn on 127.0.0.1).

FastAPI rather than Gradio: the page needs clicks on latent blocks, an undo/redo history, drag-to-pan and
wheel-to-zoom with renders requested per view, and a scrolling panorama; with a plain page those are a few lines
of JavaScript against three JSON/PNG routes, and the server stays small, typed and testable.
"""

from pathlib import Path

from pydantic import BaseModel, Field

from spatialgan.serve.studio import Cancelled, Studio, StudioBusy, StudioError

STATIC = Path(__file__).parent / "static"
MAX_BODY = 8 << 20              # bytes; the largest latent (4 MiB of base64) fits
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_CONNECTIONS = 64            # uvicorn answers 503 beyond this many open connections or tasks
KEEP_ALIVE_SECONDS = 5
MAX_MESSAGE = 300               # characters of an error message (never a whole echoed request)


class BoundedBody:
    """ASGI middleware: a POST must declare a Content-Length of at most MAX_BODY bytes (413 otherwise). Pure ASGI,
    so that the routes still see the client's disconnect."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if not length.isdigit() or int(length) > MAX_BODY:
                from fastapi.responses import JSONResponse

                response = JSONResponse(status_code=413, content={
                    "error": f"requests carry a Content-Length of at most {MAX_BODY} bytes"})
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


async def cancellable(request, work, *args):
    """Runs `work(*args, cancelled=...)` in the thread pool; when the client disconnects, `cancelled()` turns True
    so the work stops at its next check (between tiles, or while it waits for its model)."""
    import asyncio
    import threading

    from starlette.concurrency import run_in_threadpool

    gone = threading.Event()
    task = asyncio.ensure_future(run_in_threadpool(work, *args, cancelled=gone.is_set))
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.1)
        if done:
            return task.result()
        if not gone.is_set() and await request.is_disconnected():
            gone.set()


class SampleRequest(BaseModel):
    model: str = Field(..., max_length=64)
    seed: int = Field(0, ge=0, lt=2 ** 32)
    truncation: float = 1.0


class ResampleRequest(BaseModel):
    model: str = Field(..., max_length=64)
    latent: str = Field(..., max_length=1 << 22)
    blocks: list[list[int]] = Field(..., max_length=256)
    count: int = 4
    seed: int = Field(0, ge=0, lt=2 ** 63)
    truncation: float = 1.0


class RenderRequest(BaseModel):
    model: str = Field(..., max_length=64)
    latent: str = Field(..., max_length=1 << 22)
    width: int
    height: int
    center: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    truncation: float = 1.0


class LatentRequest(BaseModel):
    model: str = Field(..., max_length=64)
    latent: str = Field(..., max_length=1 << 22)
    truncation: float = 1.0


def create_app(studio: Studio, host: str = "127.0.0.1"):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    app = FastAPI(title="spatialgan studio", docs_url=None, redoc_url=None)
    app.add_middleware(BoundedBody)
    # Only requests addressed to this server's own name: a page elsewhere cannot reach it by DNS rebinding.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=sorted({*LOOPBACK, host}))

    @app.exception_handler(StudioError)
    async def refused(request: Request, exc: StudioError):
        return JSONResponse(status_code=400, content={"error": str(exc)[:MAX_MESSAGE]})

    @app.exception_handler(StudioBusy)
    async def busy(request: Request, exc: StudioBusy):
        return JSONResponse(status_code=503, content={"error": str(exc)},
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Cancelled)
    async def cancelled(request: Request, exc: Cancelled):
        return Response(status_code=499)             # nginx's 'client closed request': nobody reads it

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")[:80]
        message = f"{where}: {first.get('msg', 'malformed request')}"
        return JSONResponse(status_code=422, content={"error": message[:MAX_MESSAGE]})

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/app.js")
    def script():
        return FileResponse(STATIC / "app.js", media_type="text/javascript")

    @app.get("/api/models")
    def models():
        return {"models": [m.info() for m in studio.models.values()], "max_pixels": studio.max_pixels}

    # The work runs in the thread pool; each model's bounded queue serialises its renders, and a request whose
    # client has gone stops waiting or rendering.
    @app.post("/api/sample")
    async def sample(req: SampleRequest, request: Request):
        return await cancellable(request, studio.sample, req.model, req.seed, req.truncation)

    @app.post("/api/resample")
    async def resample(req: ResampleRequest, request: Request):
        results = await cancellable(request, studio.resample, req.model, req.latent, req.blocks, req.count,
                                    req.seed, req.truncation)
        return {"results": results}

    @app.post("/api/render")
    async def render(req: RenderRequest, request: Request):
        png = await cancellable(request, studio.render, req.model, req.latent, req.width, req.height, req.center,
                                req.scale, req.truncation)
        return Response(png, media_type="image/png")

    @app.post("/api/latent")
    def latent(req: LatentRequest):
        data = studio.latent_file(req.model, req.latent, req.truncation)
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{req.model}-latent.safetensors"'})

    return app


def load_studio(checkpoints: list[str], device: str = "cpu", max_pixels: int = 1 << 20,
                amp: str = "auto") -> Studio:
    """Loads each checkpoint (a run folder or file) under a short unique name: its model kind, numbered on clashes."""
    from spatialgan.api import load
    from spatialgan.serve.studio import LoadedModel

    models = {}
    for path in checkpoints:
        model = load(path, device, amp=amp)
        name, k = model.name, 2
        while name in models:
            name, k = f"{model.name}-{k}", k + 1
        models[name] = LoadedModel(name, model)
    return Studio(models, max_pixels=max_pixels)


def check_bindable(host: str, port: int) -> None:
    """One-line error for an address the server could not listen on (a busy port, an unknown host)."""
    import socket

    from spatialgan import SpatialGANError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SpatialGANError(f"--host {host}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)       # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise SpatialGANError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(checkpoints: list[str], host: str = "127.0.0.1", port: int = 7860, device: str = "cpu",
          max_pixels: int = 1 << 20, amp: str = "auto") -> None:
    import sys

    import uvicorn

    from spatialgan.runtime import limit_malloc_arenas

    limit_malloc_arenas(2)       # the thread pool would otherwise grow one glibc arena per thread (RSS creeps up)
    check_bindable(host, port)                  # before loading models, and before printing anything
    if host not in LOOPBACK:
        print(f"warning: serving on {host}, reachable from other machines; the studio has no authentication",
              file=sys.stderr)
    app = create_app(load_studio(checkpoints, device, max_pixels, amp), host)
    check_bindable(host, port)
    print(f"spatialgan studio on http://{host}:{port}/ ({len(checkpoints)} model(s))")
    from spatialgan.serve.protocol import TimedH11Protocol

    uvicorn.run(app, host=host, port=port, log_level="warning", http=TimedH11Protocol,
                limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=KEEP_ALIVE_SECONDS)

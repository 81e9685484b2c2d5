"""The studio's HTTP layer: FastAPI routes over `Studio`, one static page, and `serve` (uvicorn on 127.0.0.1).

FastAPI rather than Gradio: the page needs clicks on latent blocks, an undo/redo history, drag-to-pan and
wheel-to-zoom with renders requested per view, and a scrolling panorama; with a plain page those are a few lines
of JavaScript against three JSON/PNG routes, and the server stays small, typed and testable.
"""

from pathlib import Path

from pydantic import BaseModel, Field

from spatialgan.serve.studio import Studio, StudioError

STATIC = Path(__file__).parent / "static"
MAX_BODY = 8 << 20              # bytes; the largest latent (4 MiB of base64) fits
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    # Only requests addressed to this server's own name: a page elsewhere cannot reach it by DNS rebinding.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=sorted({*LOOPBACK, host}))

    @app.middleware("http")
    async def bounded_body(request: Request, call_next):
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit() or int(length) > MAX_BODY:
                return JSONResponse(status_code=413, content={"error": f"requests carry a Content-Length of at "
                                                                       f"most {MAX_BODY} bytes"})
        return await call_next(request)

    @app.exception_handler(StudioError)
    async def refused(request: Request, exc: StudioError):
        return JSONResponse(status_code=400, content={"error": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse(status_code=422, content={"error": f"{where}: {first.get('msg', 'malformed request')}"})

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/app.js")
    def script():
        return FileResponse(STATIC / "app.js", media_type="text/javascript")

    @app.get("/api/models")
    def models():
        return {"models": [m.info() for m in studio.models.values()], "max_pixels": studio.max_pixels}

    # Plain `def` routes run in FastAPI's thread pool; each model's lock serialises its renders.
    @app.post("/api/sample")
    def sample(req: SampleRequest):
        return studio.sample(req.model, req.seed, req.truncation)

    @app.post("/api/resample")
    def resample(req: ResampleRequest):
        return {"results": studio.resample(req.model, req.latent, req.blocks, req.count, req.seed, req.truncation)}

    @app.post("/api/render")
    def render(req: RenderRequest):
        png = studio.render(req.model, req.latent, req.width, req.height, req.center, req.scale, req.truncation)
        return Response(png, media_type="image/png")

    @app.post("/api/latent")
    def latent(req: LatentRequest):
        data = studio.latent_file(req.model, req.latent, req.truncation)
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{req.model}-latent.safetensors"'})

    return app


def load_studio(checkpoints: list[str], device: str = "cpu", max_pixels: int = 1 << 20) -> Studio:
    """Loads each checkpoint (a run folder or file) under a short unique name: its model kind, numbered on clashes."""
    from spatialgan.api import load
    from spatialgan.serve.studio import LoadedModel

    models = {}
    for path in checkpoints:
        model = load(path, device)
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
          max_pixels: int = 1 << 20) -> None:
    import sys

    import uvicorn

    from spatialgan.runtime import limit_malloc_arenas

    limit_malloc_arenas(2)       # the thread pool would otherwise grow one glibc arena per thread (RSS creeps up)
    check_bindable(host, port)                  # before loading models, and before printing anything
    if host not in LOOPBACK:
        print(f"warning: serving on {host}, reachable from other machines; the studio has no authentication",
              file=sys.stderr)
    app = create_app(load_studio(checkpoints, device, max_pixels), host)
    check_bindable(host, port)
    print(f"spatialgan studio on http://{host}:{port}/ ({len(checkpoints)} model(s))")
    uvicorn.run(app, host=host, port=port, log_level="warning")

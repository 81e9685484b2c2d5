"""Screenshots of the studio for the README: serves the shipped models and drives the page in headless Chromium.

    .venv/bin/python scripts/studio_screenshots.py docs/
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path


def main(outdir: str = "docs") -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from spatialgan.api import shipped_models
    from spatialgan.serve.app import create_app, load_studio

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(load_studio([str(p) for p in shipped_models()])),
                                           host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        page.select_option("#model", "ssn")
        page.fill("#seed", "7")
        page.click("#sample")
        page.wait_for_timeout(800)
        box = page.locator("#overlay").bounding_box()
        for fx, fy in ((0.625, 0.375), (0.875, 0.375)):             # blocks (1, 2) and (1, 3) of the 4x4 grid
            page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        page.fill("#count", "6")
        page.click("#resample")
        page.wait_for_selector("#strip img.choice")
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "studio-ssn.png"), full_page=True)
        # ScaleParty and CIPS open at a pixel density they were trained at (stretched to the view).
        page.select_option("#model", "scaleparty")
        page.wait_for_function("document.getElementById('view-state').textContent.includes('trained pixel density')")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "studio-scaleparty.png"), full_page=True)
        # Then 256 px renders, the view's own density: ScaleParty zoomed 2x into the centre, CIPS's panorama strip.
        page.uncheck("#trained-scales")
        page.click("#zoom-in")
        page.wait_for_function("document.getElementById('view-state').textContent.includes('zoom 2.00x') && "
                               "document.getElementById('view').naturalHeight === 256")
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "studio-scaleparty-zoom.png"), full_page=True)
        page.select_option("#model", "cips")
        page.select_option("#view-size", "1024x256")
        page.wait_for_function("document.getElementById('view').naturalWidth === 1024 && "
                               "document.getElementById('view').naturalHeight === 256")
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "studio-cips.png"), full_page=True)
        browser.close()
    server.should_exit = True
    print(f"wrote {out}/studio-ssn.png, studio-scaleparty.png, studio-scaleparty-zoom.png, studio-cips.png")


if __name__ == "__main__":
    main(*sys.argv[1:])

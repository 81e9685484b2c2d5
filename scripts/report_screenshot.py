"""Screenshot of the top of a demo report (headless Chromium via Playwright): docs/demo-report.png.

    python scripts/report_screenshot.py demo-out/index.html docs/demo-report.png
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(report: str = "demo-out/index.html", out: str = "docs/demo-report.png") -> None:
    from playwright.sync_api import sync_playwright

    page_path = Path(report).resolve()
    if not page_path.is_file():
        raise SystemExit(f"error: no report at {page_path}; run `spatialgan demo` first")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1150, "height": 1000})
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=out)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])

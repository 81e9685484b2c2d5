"""Screenshot of the top of a demo report (headless Chromium via Playwright): docs/demo-report.png.

    python scripts/report_screenshot.py demo-out/index.html docs/demo-report.png
    python scripts/report_screenshot.py --shipped docs/demo-report.png   # the report's shipped-models section alone,
                                                                       # written to build/shipped-report (seconds)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def shipped_report(outdir: str = "build/shipped-report") -> Path:
    """The demo report's first section (the shipped models), without the demo's own training."""
    from spatialgan.demo import Report, add_shipped_section

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out, "spatialgan demo report")
    start = time.perf_counter()
    add_shipped_section(report)
    print(f"shipped-models section: {time.perf_counter() - start:.1f} s")
    return report.write()


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
    if sys.argv[1:2] == ["--shipped"]:
        main(str(shipped_report()), *sys.argv[2:3])
    else:
        main(*sys.argv[1:])

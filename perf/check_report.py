"""Open the HTML report headlessly, visit every result in it, and check that each one shows its
figure; save a screenshot of some of them to look at.

    python perf/check_report.py results/report.html [--screenshots DIR] [--every 25]

Needs Chromium and Playwright's Python package (not project dependencies): on Debian,
``apt-get install chromium`` and ``pip install playwright``; the browser Playwright would
download is not needed, the script drives ``/usr/bin/chromium`` (``--chromium`` to change).

It walks the report's navigation (every category, every subcategory, every row's eye button)
and counts the results whose figure loaded (an ``<img>`` at least 200 px wide, decoded). Printed:
per subcategory the number of results, then the totals, the results that showed nothing and any
JavaScript error of the page. Exit status 1 when a result showed no figure or the page raised.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIGURE_SHOWN = """() => Array.from(document.querySelectorAll('img')).some(
    i => i.complete && i.naturalWidth > 200 && i.getBoundingClientRect().width > 200)"""


def _nav_entries(page) -> list[str]:
    return [t.strip() for t in page.locator("nav li span").all_inner_texts() if t.strip()]


def _open(page, url: str, *path: str) -> None:
    page.goto(url)
    page.wait_for_timeout(1500)
    for entry in path:
        page.locator("nav li span", has_text=re.compile(f"^{re.escape(entry)}$")).first.click()
        page.wait_for_timeout(500)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshots", type=Path, help="folder for PNG screenshots")
    parser.add_argument("--every", type=int, default=25, help="screenshot every N-th result")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    url = args.report.resolve().as_uri()
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    visited, missing, errors = 0, [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        _open(page, url)
        categories = [c for c in _nav_entries(page) if c not in ("Workflow", "Statistics", "About")]
        for category in categories:
            _open(page, url, category)
            for sub in [s for s in _nav_entries(page) if s not in ("Results", category)]:
                _open(page, url, category, sub)
                rows = page.locator("nav tbody tr")
                for i in range(rows.count()):
                    name = " ".join(rows.nth(i).inner_text().split())
                    rows.nth(i).locator('a[iconname="eye"]').first.click()
                    page.wait_for_timeout(1000)
                    visited += 1
                    shown = page.evaluate(FIGURE_SHOWN)
                    if not shown:
                        missing.append(f"{category} / {sub} / {name}")
                    if args.screenshots and (not shown or visited % args.every == 1):
                        page.screenshot(path=str(args.screenshots / f"report_{visited:03d}.png"))
                print(f"{category} / {sub}: {rows.count()} results")
        browser.close()
    print(f"results visited: {visited}; figure shown: {visited - len(missing)}")
    for name in missing:
        print(f"  no figure: {name}")
    for error in errors:
        print(f"  page error: {error}")
    return 1 if missing or errors or not visited else 0


if __name__ == "__main__":
    sys.exit(main())

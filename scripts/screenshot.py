"""Render an HTML file to PNG with headless Chromium (for the README screenshot).

Example:
    python scripts/screenshot.py runs/demo/report.html docs/report.png --width 1280 --height 1400
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 1400,
               budget_ms: int = 5000, browser: str | None = None, fragment: str = "") -> Path:
    """Write a PNG of ``html`` as headless Chromium draws it in a ``width`` x ``height`` window.

    ``budget_ms`` of virtual time lets the page's scripts (the plotly chart) finish first;
    ``fragment`` is appended to the URL (a textkl report opens its heatmap with ``heat``).
    """
    exe = browser or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="textkl-shot-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--virtual-time-budget={budget_ms}", f"--screenshot={png}",
               html.resolve().as_uri() + (f"#{fragment}" if fragment else "")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if not png.exists():
        raise SystemExit(f"chromium wrote no screenshot (exit {proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    return png


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1400)
    ap.add_argument("--budget-ms", type=int, default=5000, help="virtual time for scripts")
    ap.add_argument("--browser", default=None, help="chromium executable")
    ap.add_argument("--fragment", default="", help="URL fragment, e.g. heat")
    args = ap.parse_args(argv)
    if not args.html.is_file():
        sys.exit(f"no such file: {args.html}")
    out = screenshot(args.html, args.png, args.width, args.height, args.budget_ms, args.browser,
                     args.fragment)
    print(out)


if __name__ == "__main__":
    main()

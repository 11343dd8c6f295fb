"""Check a Prefect UI page in headless Chromium: render it, read its visible text, screenshot it.

Prefect's UI is a single-page app: the HTML the server sends is an empty shell that JavaScript
fills from the API. `chromium --headless --dump-dom --virtual-time-budget=MS` runs the page's
scripts (and its API calls) for that much virtual time before printing the rendered DOM, which is
enough to wait for the flow-run page; a page still missing the expected text is rendered again
with a doubled budget.

Standalone:
    python -m tests.support.ui_check http://127.0.0.1:4200/runs/flow-run/ID \\
        --expect Completed --expect my-run-name --screenshot run.png
Needs Debian's `chromium` package (`apt-get install chromium chromium-driver`), or $CHROMIUM.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Flags for a headless Chromium as root in a container with no network but 127.0.0.1: no
#: sandbox (root), no GPU, and none of the background traffic to Google's services.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
#: Virtual milliseconds the page's scripts may run before the DOM is taken (rendering the
#: flow-run page took 4-6 s of wall time on a loaded 2-core machine).
DEFAULT_BUDGET_MS = 15_000


class UICheckError(AssertionError):
    """The page did not show what was expected (or Chromium did not render it)."""


def flow_run_url(ui_url: str, flow_run_id: str) -> str:
    """The UI page of one flow run, e.g. http://127.0.0.1:4200/runs/flow-run/<id>."""
    return f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


class _TextParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "noscript", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text of an HTML document without scripts and styles, whitespace collapsed."""
    parser = _TextParser()
    parser.feed(html)
    return " ".join(unescape(" ".join(parser.parts)).split())


def _chromium(args: list[str], chromium: str, timeout: float, want_output: bool = True) -> str:
    if not Path(chromium).is_file():
        raise UICheckError(f"ui check: no Chromium at {chromium}; install it with "
                           "`apt-get install -y chromium chromium-driver` or set $CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="litmine-chromium-") as profile:
        process = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}", *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        timed_out = False
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out, out, err = True, "", ""
        finally:  # Chromium leaves helper processes behind: end its whole process group
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.communicate()
    if timed_out:
        raise UICheckError(f"ui check: chromium {' '.join(args)} gave no answer in {timeout:.0f} s")
    if process.returncode != 0 or (want_output and not out.strip()):
        last = [line for line in err.splitlines() if line.strip()][-3:]
        raise UICheckError(f"ui check: chromium {' '.join(args)} failed "
                           f"(exit {process.returncode}): {' | '.join(last)}")
    return out


def render_page(url: str, *, budget_ms: int = DEFAULT_BUDGET_MS, chromium: str = CHROMIUM,
                timeout: float = 120) -> str:
    """The page's DOM after its scripts ran for `budget_ms` virtual milliseconds."""
    return _chromium([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], chromium, timeout)


def screenshot_page(url: str, path: Path, *, size: tuple[int, int] = (1400, 900),
                    budget_ms: int = DEFAULT_BUDGET_MS, chromium: str = CHROMIUM,
                    timeout: float = 120) -> Path:
    """Save a PNG of the rendered page to `path`."""
    path = Path(path).resolve()
    path.unlink(missing_ok=True)
    _chromium([f"--screenshot={path}", f"--window-size={size[0]},{size[1]}",
               f"--virtual-time-budget={budget_ms}", url], chromium, timeout, want_output=False)
    if not path.is_file() or path.stat().st_size == 0:
        raise UICheckError(f"ui check: chromium wrote no screenshot of {url} to {path}")
    return path


def check_page(url: str, expect: list[str], *, screenshot: Path | None = None,
               attempts: int = 3, budget_ms: int = DEFAULT_BUDGET_MS,
               chromium: str = CHROMIUM) -> str:
    """Render `url` until its visible text holds every string in `expect`; return that text.

    Raises UICheckError naming the missing strings and the start of what the page showed.
    """
    text = ""
    for attempt in range(attempts):
        text = visible_text(render_page(url, budget_ms=budget_ms * 2 ** attempt,
                                        chromium=chromium))
        missing = [s for s in expect if s not in text]
        if not missing:
            break
    else:
        raise UICheckError(f"ui check: {url} does not show {missing} after {attempts} renders; "
                           f"it shows: {text[:600]!r}")
    if screenshot is not None:
        screenshot_page(url, screenshot, budget_ms=budget_ms, chromium=chromium)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="page to check, e.g. http://127.0.0.1:4200/runs/flow-run/ID")
    parser.add_argument("--expect", action="append", default=[], help="text the page must show")
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the page here")
    parser.add_argument("--budget-ms", type=int, default=DEFAULT_BUDGET_MS)
    args = parser.parse_args(argv)
    try:
        text = check_page(args.url, args.expect, screenshot=args.screenshot,
                          budget_ms=args.budget_ms)
    except UICheckError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

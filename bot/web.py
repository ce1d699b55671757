"""The small web server for the widget page (web/): static files plus /config.js with the Rasa URL.

Also: GET /api/topics and /api/flows (what the officers' link builder offers), and a whitelist of front-end
files installed from the npm registry under /vendor/ (never the whole node_modules), and the alert emails'
unsubscribe page /alerts/unsubscribe (GET asks, POST stops the alerts).
"""
from __future__ import annotations

import functools
import json
import logging
import re
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable

from bot import settings

WEB_ROOT = settings.PROJECT_ROOT / "web"
NODE_MODULES = settings.PROJECT_ROOT / "node_modules"
DOMAIN_PATHS = (settings.PROJECT_ROOT / "domain", settings.PROJECT_ROOT / "domain.yml")  # a folder, or one file
logger = logging.getLogger(__name__)

# URL path -> file under node_modules/ (installed by scripts/setup-browser.sh from package-lock.json).
VENDOR_FILES: dict[str, tuple[str, str]] = {
    "/vendor/socket.io.min.js": ("socket.io-client/dist/socket.io.min.js", "application/javascript; charset=utf-8"),
    "/vendor/socket.io.min.js.map": ("socket.io-client/dist/socket.io.min.js.map", "application/json"),
    "/vendor/qrcode.js": ("qrcode-generator/dist/qrcode.js", "application/javascript; charset=utf-8"),
}
# Files another site may load when it embeds the widget with one <script> tag.
_CROSS_ORIGIN_PREFIXES = ("/widget/", "/translations/", "/vendor/", "/config.js", "/api/")
_FLOW_NAME_RE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
ALERTS_UNSUBSCRIBE_PATH = "/alerts/unsubscribe"  # the link in alert emails (bot/alerts/unsubscribe.py)
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]*")
REQUEST_TIMEOUT_SECONDS = 30


@functools.lru_cache(maxsize=1)
def _store():
    from bot.knowledge.store import KnowledgeStore

    return KnowledgeStore(settings.data_dir() / "knowledge.db")


def topics() -> list[dict[str, str]]:
    """Every knowledge topic as {id, title}, by id, from the live store (an edit shows without a restart)."""
    return [{"id": topic_id, "title": title} for topic_id, title in _store().topics()]


def _domain_files(paths: Iterable[Path]) -> list[Path]:
    for path in paths:
        if path.is_dir():
            return sorted(p for p in path.rglob("*") if p.suffix in {".yml", ".yaml"})
        if path.is_file():
            return [path]
    return []


def flows(domain_paths: Iterable[Path] = DOMAIN_PATHS) -> list[dict[str, str]]:
    """The flows a deep link can start: each form in the domain whose `start_<name>` intent exists.

    `?flow=<name>` sends the payload `/start_<name>`, so a form without that intent cannot be linked to. The
    domain is the first of `domain_paths` that exists: a folder of YAML files (merged, as Rasa does) or one file.
    """
    import yaml

    intents: set[str] = set()
    forms: set[str] = set()
    for path in _domain_files(domain_paths):
        part: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        intents.update(next(iter(i)) if isinstance(i, dict) else str(i) for i in part.get("intents") or [])
        forms.update(part.get("forms") or {})
    return [{"name": name, "title": name.replace("_", " ").capitalize(), "payload": f"/start_{name}"}
            for name in sorted(forms) if _FLOW_NAME_RE.match(name) and f"start_{name}" in intents]


class WebHandler(SimpleHTTPRequestHandler):
    # Seconds a connection may sit idle (a client that declares a Content-Length and never sends it, a
    # half-open socket): then the socket times out and the thread is freed, instead of being held forever.
    timeout = REQUEST_TIMEOUT_SECONDS

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        if self.path.split("?", 1)[0].startswith(_CROSS_ORIGIN_PREFIXES):
            self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def _send_bytes(self, body: bytes, content_type: str, status: int = 200, cache: str = "no-cache",
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", cache)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, value: Any, status: int = 200) -> None:
        self._send_bytes(json.dumps(value, ensure_ascii=False).encode(), "application/json; charset=utf-8", status,
                         "no-store")

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if _is_staff_path(self.path):
            self._staff("GET")
            return
        path = self.path.split("?", 1)[0]
        if path in VENDOR_FILES:
            relative, content_type = VENDOR_FILES[path]
            try:
                body = (NODE_MODULES / relative).read_bytes()
            except FileNotFoundError:
                self.send_error(404, f"{relative} is not installed; run scripts/setup-browser.sh")
                return
            self._send_bytes(body, content_type)
            return
        if path == "/api/topics":
            from bot.knowledge.store import KnowledgeUnavailable

            try:
                self._send_json(topics())
            except KnowledgeUnavailable as error:
                self._send_json({"error": str(error)}, 503)
            return
        if path == "/api/flows":
            self._send_json(flows())
            return
        if path == "/calendar/bid-readiness.ics":  # the bid readiness flow's calendar file, built from the link
            from urllib.parse import parse_qsl

            from bot.procurement.bid_readiness import ics_from_query

            calendar = ics_from_query(dict(parse_qsl(self.path.partition("?")[2])))
            if calendar is None:
                self.send_error(400, "Not a calendar link")
                return
            self._send_bytes(calendar.encode("utf-8"), "text/calendar; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="bid-readiness.ics"'})
            return
        if path == ALERTS_UNSUBSCRIBE_PATH:
            self._send_unsubscribe_page("GET")
            return
        if path == "/config.js":
            rasa_url = settings.get("PUBLIC_RASA_URL") or f"http://{settings.get('HOST')}:{settings.get('RASA_PORT')}"
            body = f"window.NAVIGATOR_CONFIG = {json.dumps({'rasaUrl': rasa_url})};\n".encode()
            self._send_bytes(body, "application/javascript; charset=utf-8", cache="no-store")
            return
        super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
        if _is_staff_path(self.path):
            self._staff("GET", head=True)
            return
        super().do_HEAD()

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        if _is_staff_path(self.path):
            self._staff("POST")
            return
        if self.path.split("?", 1)[0] == ALERTS_UNSUBSCRIBE_PATH:
            self._send_unsubscribe_page("POST")
            return
        self.send_error(405, "Method not allowed")

    def _read_form_body(self, limit: int) -> bytes | None:
        """The request body when its length is declared and within `limit`; else sends 400/413 and returns None."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= limit:
            self.send_error(413 if length > 0 else 400, "The form is too large or malformed")
            return None
        return self.rfile.read(length)

    def _send_unsubscribe_page(self, method: str) -> None:
        """The alert emails' unsubscribe link (bot.alerts.unsubscribe): GET asks, POST stops the alerts."""
        from bot.alerts import unsubscribe

        query = self.path.partition("?")[2]
        if method == "GET":
            page = unsubscribe.confirm_page(query)
        else:
            raw = self._read_form_body(unsubscribe.MAX_FORM_BYTES)
            if raw is None:
                return
            page = unsubscribe.unsubscribe(query, raw)
        self._send_bytes(page.html.encode("utf-8"), "text/html; charset=utf-8", page.status, "no-store")

    def _staff(self, method: str, head: bool = False) -> None:
        """Everything under /staff/: bot.staff.pages decides (and checks the login) for every path."""
        from urllib.parse import parse_qsl

        from bot.staff.pages import MAX_FORM_BYTES, Request

        path, query = staff_target(self.path)
        form: dict[str, str] = {}
        if method == "POST":
            raw = self._read_form_body(MAX_FORM_BYTES)
            if raw is None:
                return
            if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
                form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        request = Request(method, path, dict(parse_qsl(query)), form,
                          Request.parse_cookies(self.headers.get("Cookie")), self.client_address[0],
                          self.headers.get("Host") or "", self.headers.get("Origin"))
        response = _staff_app(self.server).handle(request)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", STAFF_CSP)
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        # An unsubscribe token in a log would let anyone who reads the log stop someone's alerts.
        logger.info("%s %s", self.address_string(), _TOKEN_IN_URL.sub(r"\1…", format % args))


# The staff pages are plain HTML and CSS with inline SVG charts: nothing else may load, run or frame them.
# The charts size themselves with style attributes, so those (and only those) may be inline.
STAFF_CSP = ("default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _staff_path(path: str) -> str:
    """The path as the file server would resolve it (%-decoded, dots removed), so no spelling escapes auth."""
    import posixpath
    from urllib.parse import unquote

    resolved = posixpath.normpath(unquote(path) or "/")
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return "/" + resolved.lstrip("/")


def staff_target(raw_path: str) -> tuple[str, str]:
    """(resolved path, query) of a request line's path: the one path both the staff check and the routing use.

    Not urlsplit: it reads "//staff/x" as a host "staff" and the path "/x" (this Python's http.server collapses
    leading slashes, older ones do not)."""
    path, _, query = raw_path.split("#", 1)[0].partition("?")
    return _staff_path(path), query


def _is_staff_path(raw_path: str) -> bool:
    path = staff_target(raw_path)[0]
    return path == "/staff" or path.startswith("/staff/")


def _staff_app(server: Any):
    return server.staff_app


def make_server(host: str, port: int, staff_app: Any = None) -> ThreadingHTTPServer:
    """The web server; `staff_app` serves /staff/ (default: a StaffApp for the settings' data directory)."""
    from bot.staff.pages import StaffApp

    server = ThreadingHTTPServer((host, port), partial(WebHandler, directory=str(WEB_ROOT)))
    server.staff_app = staff_app or StaffApp()  # type: ignore[attr-defined]
    return server


def serve(host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = make_server(host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

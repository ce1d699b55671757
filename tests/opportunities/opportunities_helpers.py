"""Shared helpers of the opportunities tests (a uniquely named module, importable from the test files)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from bot import settings

SNAPSHOT_DIR = settings.PROJECT_ROOT / "bot" / "opportunities" / "snapshot"
CANADABUYS_SAMPLE = SNAPSHOT_DIR / "newTenderNotice-nouvelAvisAppelOffres.2025-12-30.csv"
TORONTO_SAMPLE = SNAPSHOT_DIR / "toronto-all-solicitations.2026-08-22.csv"
FIXTURES = Path(__file__).parent / "fixtures"

# All CanadaBuys sample notices close between 2026-01-05 and 2026-02; Toronto's latest is 2026-10-30.
NOW = dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.timezone.utc)


def read_canadabuys_rows(path: Path = CANADABUYS_SAMPLE) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def canadabuys_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """Rows written back in the CanadaBuys dialect: BOM, every field quoted, CRLF records."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


Route = Callable[[BaseHTTPRequestHandler], None]


class FeedServer:
    """An http.server on 127.0.0.1 (port 0) in a thread; tests put handlers in `routes` by path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                server.requests.append({"path": path, "headers": dict(self.headers)})
                route = server.routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


def send(handler, body: bytes, *, status: int = 200, content_type: str = "text/csv; charset=utf-8",
         headers: dict | None = None, length: int | None = None) -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()

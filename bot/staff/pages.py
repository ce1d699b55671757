"""The staff pages under /staff/: routing, authentication on every route, layout, login, freshness and links.

`ROUTES` is the one table of what exists under /staff/; `StaffApp.handle` serves a `Request` and is what
bot/web.py calls, so the pages can be tested without a socket. Every route except the login form needs a valid
session: pages answer a redirect to the login page, data files (.csv, .json) and the stylesheet answer 401.
Every POST needs the session's CSRF token (the login form its own signed token) and, when the browser sends
one, an Origin header naming this server.

The pages are plain server-rendered HTML with the site's stylesheet and no script, so they work with any
browser and assistive technology; the report, gap and queue sections come from bot.staff.report,
bot.staff.gaps and bot.staff.queue.
"""
from __future__ import annotations

import datetime as dt
import html
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from bot import clock as wall_clock
from bot import settings
from bot.staff.auth import LOGIN_COOKIE, SESSION_COOKIE, StaffAuth, StaffAuthError

logger = logging.getLogger(__name__)
STAFF_CSS = settings.PROJECT_ROOT / "web" / "staff" / "staff.css"
REPORT_DAYS = 30  # the report's and link usage's default range: the last 30 days
MAX_FORM_BYTES = 64 * 1024
_DATE_FIELDS = ("from", "to")


# ---------------------------------------------------------------- requests and responses


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    client: str = ""
    host: str = ""
    origin: str | None = None

    @staticmethod
    def parse_cookies(header: str | None) -> dict[str, str]:
        """The Cookie header's name=value pairs, parsed leniently: SimpleCookie drops every cookie when one is
        malformed, so another local app's odd cookie would keep staff from logging in. A name sent twice keeps
        its first value (the browser sends the cookie with the longest path, /staff, first)."""
        cookies: dict[str, str] = {}
        for part in (header or "").split(";"):
            name, equals, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not equals or not name:
                continue
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies.setdefault(name, value)
        return cookies


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def _cookie(name: str, value: str, max_age: int) -> tuple[str, str]:
    # Secure is sent always: Chromium keeps Secure cookies from http://127.0.0.1 and http://localhost (checked
    # with Chromium 156), and anywhere else the staff pages belong behind HTTPS.
    return ("Set-Cookie", f"{name}={value}; Max-Age={max_age}; Path=/staff; HttpOnly; SameSite=Strict; Secure")


def _redirect(location: str, *headers: tuple[str, str]) -> Response:
    return Response(303, b"", "text/plain; charset=utf-8", [("Location", location), *headers])


# ---------------------------------------------------------------- the route table


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str          # a regular expression over the whole path; named groups are passed to the handler
    handler: str          # name of the StaffApp method
    title: str = ""       # shown in the navigation when set
    public: bool = False  # only the login form
    example: str = ""     # a concrete path, for tests that visit every route

    def match(self, path: str) -> re.Match | None:
        return re.fullmatch(self.pattern, path)

    @property
    def sample_path(self) -> str:
        return self.example or self.pattern.replace("\\.", ".")

    @property
    def is_data(self) -> bool:
        """Files a script fetches: answered 401 (not a redirect) without a session."""
        return self.sample_path.endswith((".csv", ".json", ".css"))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/staff/login", "login_form", public=True),
    Route("POST", "/staff/login", "login", public=True),
    Route("POST", "/staff/logout", "logout"),
    Route("GET", "/staff/", "index", "Overview"),
    Route("GET", "/staff/report", "report", "Usage report"),
    Route("GET", r"/staff/report\.csv", "report_csv"),
    Route("GET", r"/staff/report\.json", "report_json"),
    Route("GET", "/staff/gaps", "gaps", "Knowledge gaps"),
    Route("POST", "/staff/gaps/handled", "gaps_handled"),
    Route("GET", r"/staff/conversations/(?P<sender_id>[^/]{1,200})", "conversation",
          example="/staff/conversations/some-sender"),
    Route("GET", "/staff/queue", "queue", "Concierge queue"),
    Route("POST", "/staff/queue/status", "queue_status"),
    Route("GET", "/staff/freshness", "freshness", "Freshness"),
    Route("GET", "/staff/links", "links", "Officer links"),
    Route("GET", r"/staff/staff\.css", "stylesheet"),
)

PAGE_DESCRIPTIONS = {
    "report": "Conversations per day, topics and flows, flow completion, fallbacks, handoffs and empty "
              "opportunity searches, for any date range; CSV and JSON export.",
    "gaps": "Questions the assistant could not answer or answered with low confidence, grouped, with examples.",
    "queue": "Founders who asked to talk to a person, with their transcript; mark each contacted or closed.",
    "freshness": "Every knowledge entry's review date and status, and every opportunity feed's last refresh.",
    "links": "The officers' link builder, and how many conversations each deep link started.",
}


def find_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(the route, its parameters, whether the path exists under another method)."""
    other_method = False
    for route in ROUTES:
        found = route.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict(), False
            other_method = True
    return None, {}, other_method


class BadRequest(Exception):
    """Input a staff member can correct; the message is shown on the page."""


# ---------------------------------------------------------------- layout


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, current: str = "", csrf: str | None = None) -> str:
    """A whole staff page in the site's look: header with the staff navigation (and Log out), then `body`."""
    nav = ""
    if csrf is not None:
        current_mark = ' aria-current="page"'
        items = "".join(
            f'<li><a href="{esc(r.sample_path)}"{current_mark if r.handler == current else ""}>'
            f"{esc(r.title)}</a></li>" for r in ROUTES if r.title)
        nav = (f'<nav class="site-nav" aria-label="Staff"><ul>{items}<li>'
               f'<form method="post" action="/staff/logout" class="logout">'
               f'<input type="hidden" name="csrf_token" value="{esc(csrf)}">'
               f'<button type="submit" class="linklike">Log out</button></form></li></ul></nav>')
    stylesheet = '<link rel="stylesheet" href="/staff/staff.css">' if csrf is not None else ""
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)} — Supplier Navigator staff</title>\n"
            f'<link rel="stylesheet" href="/site.css">{stylesheet}\n</head>\n<body>\n'
            f'<a class="skip" href="#main">Skip to main content</a>\n'
            f'<header class="site-header"><div class="wrap"><a class="brand" href="/staff/">'
            f"Supplier Navigator staff</a>{nav}</div></header>\n"
            f'<main id="main" class="wrap staff">\n<h1>{esc(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n')


def date_range_form(action: str, start: dt.date, end: dt.date, note: str = "") -> str:
    return (f'<form method="get" action="{esc(action)}" class="range">'
            f'<div class="form-row"><label for="from">From</label>'
            f'<input id="from" name="from" type="date" value="{start.isoformat()}" required></div>'
            f'<div class="form-row"><label for="to">To</label>'
            f'<input id="to" name="to" type="date" value="{end.isoformat()}" required></div>'
            '<div class="actions"><button class="button" type="submit">Show</button></div>'
            + (f'<p class="note">{esc(note)}</p>' if note else "") + "</form>")


def _error_box(message: str) -> str:
    return f'<p class="error" role="alert">{esc(message)}</p>'


# ---------------------------------------------------------------- the application


class StaffApp:
    """Serves every route of ROUTES for one data directory.

    `clock` gives the current time (timezone-aware); tests pin it. Sessions, lockout and "today" (for the
    report range and the freshness statuses) all read it.
    """

    def __init__(self, data_dir: Path | None = None, clock: Callable[[], dt.datetime] = wall_clock.now,
                 tracker_url: str | None = None, knowledge_dir: Path | None = None,
                 session_minutes: float | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir else settings.data_dir()
        self.clock = clock
        self._tracker_url = tracker_url
        self.knowledge_dir = Path(knowledge_dir) if knowledge_dir else settings.path("KNOWLEDGE_DIR")
        self.auth = StaffAuth(self.data_dir, clock=lambda: self.clock().timestamp(), session_minutes=session_minutes)

    @property
    def tracker_url(self) -> str:
        if self._tracker_url:
            return self._tracker_url
        return settings.get("TRACKER_STORE_URL") or f"sqlite:///{self.data_dir / 'tracker.db'}"

    @property
    def concierge_db(self) -> Path | None:
        """The concierge queue of this app's data directory; None when the conversations are in a server
        database (a cluster), where the queue is too."""
        from bot.shared_store import is_server_database
        from bot.staff import queue as queue_module

        return None if is_server_database(self.tracker_url) else self.data_dir / queue_module.SQLITE_FILE

    @property
    def state_db(self) -> Path:
        """Where the staff's own marks (gap groups handled) are kept."""
        return self.data_dir / "staff.db"

    def today(self) -> dt.date:
        return self.clock().date()

    @property
    def zone(self) -> ZoneInfo:
        """The zone whose days the report, gaps and link pages count (REPORT_TIMEZONE), read per request."""
        from bot.staff.tracker_events import report_zone

        return report_zone()

    # dispatch

    def handle(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except StaffAuthError as error:
            return self._html(500, "Staff pages unavailable", _error_box(str(error)))

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/staff":
            return _redirect("/staff/")
        route, params, other_method = find_route(request.method, request.path)
        if route is not None and route.public:
            return self._run(route, request, None, params)
        nonce = self.auth.session_nonce(request.cookies.get(SESSION_COOKIE))
        if nonce is None:
            return self._unauthenticated(request, route)
        if route is None:
            if other_method:
                return self._html(405, "Not allowed", "<p>This address does not take that method.</p>",
                                  csrf=self.auth.csrf_token(nonce))
            return self._html(404, "Not found", '<p>No staff page here. <a href="/staff/">Staff overview</a></p>',
                              csrf=self.auth.csrf_token(nonce))
        csrf = self.auth.csrf_token(nonce)
        if request.method == "POST":
            token = request.form.get("csrf_token") or request.form.get("csrf")
            if not self._same_origin(request) or not self.auth.check_csrf(nonce, token):
                return self._html(403, "Form expired",
                                  "<p>This form was not sent from a current staff page. Go back, reload the page "
                                  "and try again.</p>", csrf=csrf)
        return self._run(route, request, csrf, {"csrf": csrf, "nonce": nonce, **params})

    def _run(self, route: Route, request: Request, csrf: str | None, arguments: dict[str, Any]) -> Response:
        """The route's handler, its failures answered in a sentence (public routes included), never a traceback."""
        try:
            return getattr(self, route.handler)(request, **arguments)
        except StaffAuthError:
            raise  # handle() says the staff pages are unavailable and why
        except BadRequest as error:
            return self._html(400, "Cannot do that", _error_box(str(error)), csrf=csrf)
        except Exception as error:  # a page that fails says so in a sentence, never with a traceback
            from bot.staff.tracker_events import TrackerStoreError

            if isinstance(error, TrackerStoreError):
                status, message = 503, f"The conversations cannot be read: {error}"
            elif isinstance(error, settings.SettingError):  # the server's configuration: say which setting
                logger.error("staff page %s: %s", request.path, error)
                status, message = 500, f"A setting of this server is wrong: {error}"
            else:
                logger.exception("staff page %s failed", request.path)
                status, message = 500, "Something went wrong on this page; the web server's log has the details."
            if route.is_data:
                return Response(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")
            return self._html(status, "Not available", _error_box(message), csrf=csrf)

    def _unauthenticated(self, request: Request, route: Route | None) -> Response:
        if request.path.endswith((".csv", ".json", ".css")) or (route is not None and route.is_data):
            return Response(401, b"Log in at /staff/login first.\n", "text/plain; charset=utf-8",
                            [("WWW-Authenticate", 'Cookie realm="staff", form="/staff/login"')])
        target = "/staff/"
        if request.method == "GET" and request.path.startswith("/staff/"):
            target = request.path + ("?" + urlencode(request.query) if request.query else "")
        return _redirect("/staff/login?" + urlencode({"next": target}))

    @staticmethod
    def _same_origin(request: Request) -> bool:
        if not request.origin:
            return True  # browsers send Origin on every POST; its absence means a non-browser client
        return urlsplit(request.origin).netloc == request.host

    def _html(self, status: int, title: str, body: str, current: str = "", csrf: str | None = None,
              headers: list[tuple[str, str]] | None = None) -> Response:
        return Response(status, page(title, body, current, csrf).encode("utf-8"), headers=list(headers or []))

    # login and logout

    def login_form(self, request: Request, message: str = "", status: int = 200) -> Response:
        if not self.auth.has_password():
            return self._html(503, "Staff login", "<p>No staff password has been set yet. On the server, run "
                              "<code>python -m bot staff reset-password</code> (it prints a new password once) or "
                              "set <code>STAFF_PASSWORD</code>.</p>")
        cookie, token = self.auth.login_token()
        next_path = _safe_next(request.query.get("next") or request.form.get("next"))
        body = (f"{_error_box(message) if message else ''}"
                '<form method="post" action="/staff/login" class="login">'
                f'<input type="hidden" name="login_token" value="{esc(token)}">'
                f'<input type="hidden" name="next" value="{esc(next_path)}">'
                '<div class="form-row"><label for="password">Staff password</label>'
                '<input id="password" name="password" type="password" autocomplete="current-password" required '
                'autofocus></div>'
                '<div class="actions"><button class="button" type="submit">Log in</button></div></form>')
        return self._html(status, "Staff login", body, headers=[_cookie(LOGIN_COOKIE, cookie, 3600)])

    def login(self, request: Request) -> Response:
        locked = self.auth.throttle.locked_for(request.client)
        if locked:
            minutes = int(locked // 60) + 1
            return self._html(429, "Staff login", _error_box(
                f"Too many failed logins from this computer. Try again in {minutes} minute(s)."),
                headers=[("Retry-After", str(int(locked) + 1))])
        if not self._same_origin(request) or not self.auth.check_login_token(
                request.cookies.get(LOGIN_COOKIE), request.form.get("login_token")):
            return self.login_form(request, "The login form had expired. Please enter the password again.", 403)
        if not self.auth.check_password(request.form.get("password", "")):
            self.auth.throttle.failed(request.client)
            return self.login_form(request, "Wrong password.", 401)
        self.auth.throttle.succeeded(request.client)
        session = self.auth.issue_session()
        return _redirect(_safe_next(request.form.get("next")),
                         _cookie(SESSION_COOKIE, session, int(self.auth.session_seconds)),
                         _cookie(LOGIN_COOKIE, "", 0))

    def logout(self, request: Request, csrf: str, nonce: str) -> Response:
        self.auth.revoke(request.cookies.get(SESSION_COOKIE))
        return _redirect("/staff/login", _cookie(SESSION_COOKIE, "", 0))

    # pages

    def index(self, request: Request, csrf: str, nonce: str) -> Response:
        items = "".join(
            f'<li><a href="{esc(r.sample_path)}">{esc(r.title)}</a> — {esc(PAGE_DESCRIPTIONS.get(r.handler, ""))}</li>'
            for r in ROUTES if r.title and r.handler != "index")
        return self._html(200, "Staff overview", f'<ul class="staff-index">{items}</ul>', "index", csrf)

    def _range(self, request: Request) -> tuple[dt.date, dt.date]:
        today = self.clock().astimezone(self.zone).date()  # "today" where the staff are, not in UTC
        values = {}
        for name in _DATE_FIELDS:
            text = (request.query.get(name) or "").strip()
            if not text:
                continue
            try:
                values[name] = dt.date.fromisoformat(text)
            except ValueError:
                raise BadRequest(f"“{text}” is not a date; use YYYY-MM-DD.") from None
        end = values.get("to", today)
        start = values.get("from", end - dt.timedelta(days=REPORT_DAYS - 1))
        if start > end:
            raise BadRequest("The start date is after the end date.")
        if (end - start).days > 3660:
            raise BadRequest("Choose a range of at most ten years.")
        return start, end

    def _build_report(self, request: Request):
        from bot.staff import report as report_module

        start, end = self._range(request)
        return start, end, report_module.build_report(self.tracker_url, start, end, zone=self.zone)

    def report(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import report as report_module

        start, end, built = self._build_report(request)
        query = esc(urlencode({"from": start.isoformat(), "to": end.isoformat()}))
        body = (date_range_form("/staff/report", start, end)
                + f'<p class="actions"><a class="button button--secondary" href="/staff/report.csv?{query}">'
                  f'Download CSV</a> <a class="button button--secondary" href="/staff/report.json?{query}">'
                  f"Download JSON</a></p>" + report_module.report_html(built))
        return self._html(200, "Usage report", body, "report", csrf)

    def report_csv(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import report as report_module

        start, end, built = self._build_report(request)
        name = f"usage-report-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(200, report_module.report_csv(built).encode("utf-8"), "text/csv; charset=utf-8",
                        [("Content-Disposition", f'attachment; filename="{name}"')])

    def report_json(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import report as report_module

        start, end, built = self._build_report(request)
        return Response(200, report_module.report_json(built).encode("utf-8"), "application/json; charset=utf-8")

    def gaps(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import gaps as gaps_module

        start, end = self._range(request)
        groups = gaps_module.find_gaps(self.tracker_url, start, end, self.state_db, zone=self.zone)
        body = ("<p>Questions the assistant could not answer or answered with low confidence, grouped by "
                "similarity. Add a topic or example questions in <code>knowledge/</code>, then mark the group "
                "handled.</p>" + date_range_form("/staff/gaps", start, end)
                + gaps_module.gaps_html(groups, csrf, self.zone))
        return self._html(200, "Knowledge gaps", body, "gaps", csrf)

    def gaps_handled(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import gaps as gaps_module

        key = request.form.get("key", "").strip()
        if not key:
            raise BadRequest("No gap group was chosen.")
        handled = request.form.get("handled", "1") not in {"0", "false", "no", ""}
        try:
            gaps_module.mark_handled(self.state_db, key, handled)
        except ValueError as error:
            raise BadRequest(str(error)) from None
        return _redirect("/staff/gaps")

    def conversation(self, request: Request, csrf: str, nonce: str, sender_id: str) -> Response:
        from bot.staff import report as report_module

        # bot/web.py has already %-decoded the path.
        body = report_module.transcript_html(self.tracker_url, sender_id, self.zone)
        return self._html(200, f"Conversation {sender_id}", body, "", csrf)

    def queue(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import queue as queue_module

        fragment = queue_module.queue_html(csrf, db_path=self.concierge_db, zone=self.zone)
        return self._html(200, "Concierge queue", fragment, "queue", csrf)

    def queue_status(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import queue as queue_module

        request_id = request.form.get("request_id", "").strip()
        status = request.form.get("status", "").strip()
        if not request_id or not status:
            raise BadRequest("Choose a request and a status.")
        try:
            queue_module.set_status(request_id, status, db_path=self.concierge_db)
        except (KeyError, ValueError, LookupError) as error:
            raise BadRequest(f"Cannot set that status: {error}") from None
        return _redirect("/staff/queue")

    def freshness(self, request: Request, csrf: str, nonce: str) -> Response:
        today = self.today()
        entries = knowledge_freshness(self.knowledge_dir, today)
        sources = source_freshness(self.data_dir, self.clock())
        return self._html(200, "Freshness", freshness_html(entries, sources, today), "freshness", csrf)

    def links(self, request: Request, csrf: str, nonce: str) -> Response:
        from bot.staff import report as report_module

        start, end = self._range(request)
        usage = report_module.link_usage(self.tracker_url, start, end, self.zone)
        body = ('<p>Officers build links and QR codes that open the assistant on a topic or flow with the '
                '<a href="/links.html">link builder</a>.</p>'
                + date_range_form("/staff/links", start, end) + links_table(usage))
        return self._html(200, "Officer links", body, "links", csrf)

    def stylesheet(self, request: Request, csrf: str, nonce: str) -> Response:
        return Response(200, STAFF_CSS.read_bytes(), "text/css; charset=utf-8")


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: a staff page of this server only (never another site)."""
    if value and value.startswith("/staff/") and "//" not in value and "\\" not in value and "\n" not in value:
        return quote(value, safe="/?=&-._~%")
    return "/staff/"


# ---------------------------------------------------------------- freshness


STATUS_LABELS = {"current": "Current", "due_soon": "Due soon", "overdue": "Overdue"}


@dataclass(frozen=True)
class EntryFreshness:
    kind: str               # "topic" or the table's name
    id: str
    title: str
    last_reviewed: dt.date
    review_every_days: int
    due: dt.date
    status: str             # current, due_soon or overdue


def knowledge_freshness(knowledge_dir: Path, today: dt.date) -> list[EntryFreshness]:
    """Every topic and table row with a review date, most urgent first (as `python -m bot knowledge status`)."""
    from bot.knowledge.freshness import freshness, review_due
    from bot.knowledge.loader import load_knowledge
    from bot.knowledge.schema import TABLE_FIELDS, key_field

    knowledge, _problems = load_knowledge(knowledge_dir)
    raw: list[tuple[str, str, str, dt.date, int]] = []
    for topic in knowledge.topics:
        if topic.last_reviewed is not None and topic.review_every_days is not None:
            raw.append(("topic", topic.id, topic.title, topic.last_reviewed, topic.review_every_days))
    for table in TABLE_FIELDS:
        for row in knowledge.tables.get(table, []):
            if row.get("last_reviewed") is not None and row.get("review_every_days") is not None:
                key = str(row.get(key_field(table)))
                title = str(row.get("name") or row.get("title") or row.get("term") or key)
                raw.append((table, key, title, row["last_reviewed"], int(row["review_every_days"])))
    entries = [EntryFreshness(kind, key, title, reviewed, every, review_due(reviewed, every),
                              freshness(reviewed, every, today)) for kind, key, title, reviewed, every in raw]
    return sorted(entries, key=lambda e: (e.due, e.kind, e.id))


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    last_success: str | None
    last_error: str | None
    listings: int
    origin: str
    stale: bool             # never loaded from its feed, failing now, or not refreshed for two refresh periods


def source_freshness(data_dir: Path, now: dt.datetime) -> list[SourceFreshness]:
    """Every configured opportunity source (and any other in the store) with its last successful refresh."""
    from bot.opportunities import store
    from bot.opportunities.refresh import ConfigError, load_sources

    rows = {row["source"]: row for row in store.read_status(Path(data_dir) / store.DB_FILENAME)}
    try:
        names = [config.name for config in load_sources() if config.enabled]
    except ConfigError:
        names = []
    names += [name for name in rows if name not in names]
    limit = dt.timedelta(hours=2 * float(settings.get("FEED_REFRESH_HOURS")))
    found = []
    for name in names:
        row = rows.get(name, {})
        success = row.get("last_success")
        failing = bool(row.get("last_error_at")) and (row.get("last_error_at") or "") >= (success or "")
        origin = row.get("origin") or ""
        if row.get("snapshot"):
            # Loading the copy bundled in the repo is no refresh: its listings are as old as the copy.
            origin = f"bundled snapshot of {row.get('snapshot_date') or 'unknown date'}, loaded {success}"
            success = None
        too_old = True
        if success:
            try:
                when = dt.datetime.fromisoformat(success)
                too_old = now - (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)) > limit
            except ValueError:
                too_old = True
        found.append(SourceFreshness(name, success, row.get("last_error") if failing else None,
                                     int(row.get("listings") or 0), origin, too_old or failing))
    return found


def freshness_html(entries: list[EntryFreshness], sources: list[SourceFreshness], today: dt.date) -> str:
    counts = {status: sum(1 for e in entries if e.status == status) for status in STATUS_LABELS}
    rows = "".join(
        f'<tr class="status-{e.status}"><td>{esc(e.kind)}</td><td><code>{esc(e.id)}</code>'
        f'{"<br>" + esc(e.title) if e.title != e.id else ""}</td>'
        f"<td>{e.last_reviewed.isoformat()}</td><td>{e.review_every_days} days</td><td>{e.due.isoformat()}</td>"
        f'<td>{"<strong>" if e.status == "overdue" else ""}{STATUS_LABELS[e.status]}'
        f'{"</strong>" if e.status == "overdue" else ""}</td></tr>' for e in entries)
    source_rows = "".join(
        f'<tr class="{"status-overdue" if s.stale else "status-current"}"><td>{esc(s.source)}</td>'
        f'<td>{esc(s.last_success or "never")}{" <strong>(stale)</strong>" if s.stale else ""}</td>'
        f"<td>{s.listings}</td><td>{esc(s.origin or '—')}</td><td>{esc(s.last_error or '—')}</td></tr>"
        for s in sources) or '<tr><td colspan="5">No opportunity sources are configured.</td></tr>'
    return (f'<p>Today is {today.isoformat()}. <strong>{counts["overdue"]} overdue</strong>, '
            f'{counts["due_soon"]} due soon, {counts["current"]} current. Edit the files in '
            "<code>knowledge/</code> and update <code>last_reviewed</code> after a review.</p>"
            '<table class="data" id="knowledge-freshness"><caption>Knowledge entries, most urgent first</caption>'
            '<thead><tr><th scope="col">Kind</th><th scope="col">Entry</th><th scope="col">Last reviewed</th>'
            '<th scope="col">Review every</th><th scope="col">Due</th><th scope="col">Status</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            '<table class="data" id="source-freshness"><caption>Opportunity sources</caption>'
            '<thead><tr><th scope="col">Source</th><th scope="col">Last successful refresh</th>'
            '<th scope="col">Listings</th><th scope="col">From</th><th scope="col">Current error</th></tr></thead>'
            f"<tbody>{source_rows}</tbody></table>")


# ---------------------------------------------------------------- links


def links_table(usage: list[dict]) -> str:
    """The per-link usage table (from bot.staff.report.link_usage): each deep link and the conversations it started."""
    body = "".join(
        f'<tr><th scope="row"><code>?{esc(item["kind"])}={esc(item["target"])}</code></th>'
        f'<td>{esc(item["kind"])}</td><td>{esc(item["target"])}</td><td>{int(item["conversations"])}</td></tr>'
        for item in usage)
    if not body:
        body = '<tr><td colspan="4">No conversation in this range started from a deep link.</td></tr>'
    return ('<table class="data" id="link-usage"><caption>Conversations started by each deep link</caption>'
            '<thead><tr><th scope="col">Link</th><th scope="col">Kind</th><th scope="col">Topic or flow</th>'
            f'<th scope="col">Conversations</th></tr></thead><tbody>{body}</tbody></table>')

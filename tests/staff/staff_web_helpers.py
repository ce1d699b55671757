"""The staff pages served by the real web server (bot.web.make_server) in this process, with a pinned clock.

`StaffServer` logs in the way a browser does (login form, its signed token cookie, POST) and sends cookies by
hand: the session cookie is Secure, which `requests` would not send over http.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

from bot.staff.auth import LOGIN_COOKIE, SESSION_COOKIE

START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


class PinnedClock:
    """A clock the test moves by hand."""

    def __init__(self, at: dt.datetime = START) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


def empty_tracker_store(path: Path) -> str:
    """A SQLite tracker store with Rasa's `events` table and no conversations; returns its URL."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"))
    engine.dispose()
    return url


def set_cookies(response: requests.Response) -> dict[str, str]:
    """name -> full Set-Cookie header of a response."""
    found = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        found[header.split("=", 1)[0]] = header
    return found


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


@dataclass
class StaffServer:
    url: str
    password: str
    clock: PinnedClock
    app: object

    def get(self, path: str, session: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if session is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={session}"
        return requests.get(self.url + path, headers=headers, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data: dict, session: str | None = None, cookies: dict | None = None,
             headers: dict | None = None) -> requests.Response:
        jar = dict(cookies or {})
        if session is not None:
            jar[SESSION_COOKIE] = session
        headers = dict(headers or {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        return requests.post(self.url + path, data=data, headers=headers, allow_redirects=False, timeout=30)

    def login_form(self) -> tuple[str, str]:
        """(login cookie, form token) from a fresh login page."""
        response = self.get("/staff/login")
        assert response.status_code == 200, response.text
        token = re.search(r'name="login_token" value="([^"]+)"', response.text).group(1)
        return cookie_value(set_cookies(response)[LOGIN_COOKIE]), token

    def try_login(self, password: str) -> requests.Response:
        cookie, token = self.login_form()
        return self.post("/staff/login", {"password": password, "login_token": token},
                         cookies={LOGIN_COOKIE: cookie})

    def login(self) -> str:
        """Logs in with the right password and returns the session cookie's value."""
        response = self.try_login(self.password)
        assert response.status_code == 303, response.text
        return cookie_value(set_cookies(response)[SESSION_COOKIE])

    def csrf(self, session: str) -> str:
        response = self.get("/staff/", session)
        assert response.status_code == 200
        return re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)


def start_staff_server(data_dir: Path, knowledge_dir: Path | None = None, session_minutes: float = 30,
                       tracker_url: str | None = None):
    """(StaffServer, stop function) for a fresh data directory with a newly reset password.

    The tracker store is `tracker_url`, else an empty one in the data directory."""
    from bot.staff.auth import reset_password
    from bot.staff.pages import StaffApp
    from bot.web import make_server

    password = reset_password(data_dir)
    clock = PinnedClock()
    app = StaffApp(data_dir, clock=clock, tracker_url=tracker_url or empty_tracker_store(data_dir / "tracker.db"),
                   knowledge_dir=knowledge_dir, session_minutes=session_minutes)
    server = make_server("127.0.0.1", 0, staff_app=app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return StaffServer(f"http://127.0.0.1:{server.server_address[1]}", password, clock, app), stop

"""Authentication of the staff pages: every route refuses without a valid session, whatever the attempt."""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import stat
import subprocess
import sys
import threading

import pytest

from bot import settings
from bot.staff import auth
from bot.staff.auth import LOGIN_COOKIE, SESSION_COOKIE, LoginThrottle, StaffAuth
from bot.staff.pages import ROUTES
from staff_web_helpers import cookie_value, set_cookies, start_staff_server

PROTECTED = [route for route in ROUTES if not route.public]


@pytest.fixture
def server(data_dir):
    running, stop = start_staff_server(data_dir, session_minutes=30)
    yield running
    stop()


def assert_refused(server, session: str | None, why: str) -> None:
    """Every protected route (and an unknown /staff/ path) refuses: pages redirect to login, data files 401."""
    for route in PROTECTED:
        path = route.sample_path
        if route.method == "GET":
            response = server.get(path, session)
        else:
            response = server.post(path, {"csrf_token": "x", "key": "k", "request_id": "1", "status": "closed"},
                                   session)
        if route.is_data:
            assert response.status_code == 401, f"{route.method} {path} ({why}): {response.status_code}"
        else:
            assert response.status_code == 303, f"{route.method} {path} ({why}): {response.status_code}"
            assert response.headers["Location"].startswith("/staff/login?next="), (path, why)
        assert SESSION_COOKIE not in set_cookies(response), (path, why)
        assert "csrf_token" not in response.text and "<svg" not in response.text, (path, why)
    for path in ("/staff/no-such-page", "/staff/report.csv?from=2026-01-01", "/staff"):
        response = server.get(path, session)
        assert response.status_code in (301, 303, 401), (path, why)
        assert "staff/login" in response.headers.get("Location", "/staff/login") or path == "/staff", (path, why)


def test_the_route_table_lists_every_staff_page():
    handlers = {route.handler for route in ROUTES}
    assert {"login_form", "login", "logout", "index", "report", "report_csv", "report_json", "gaps",
            "gaps_handled", "conversation", "queue", "queue_status", "freshness", "links", "stylesheet"} <= handlers
    assert [route.handler for route in ROUTES if route.public] == ["login_form", "login"]


def test_every_route_refuses_without_a_session(server):
    assert_refused(server, None, "no cookie")


def test_every_route_works_with_a_session(server):
    session = server.login()
    for route in PROTECTED:
        if route.method == "GET":
            response = server.get(route.sample_path, session)
            assert response.status_code == 200, (route.sample_path, response.status_code, response.text[:300])
    assert "<svg" in server.get("/staff/report", session).text


def test_path_spellings_do_not_escape_the_login(server):
    host, port = server.url.removeprefix("http://").split(":")
    for path in ("/%73taff/staff.css", "/x/../staff/staff.css", "//staff/report.json", "/staff/./report.csv",
                 "/staff/%2e%2e/staff/staff.css"):
        for method in ("GET", "HEAD"):
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read()
            connection.close()
            assert response.status == 401, (method, path, response.status)
            assert b"linklike" not in body



def test_a_doubled_slash_routes_to_the_same_staff_page_it_was_checked_as(server):
    from bot.web import _is_staff_path, staff_target

    for raw, expected in (("//staff/report.json?from=2026-01-01", ("/staff/report.json", "from=2026-01-01")),
                          ("///staff/login", ("/staff/login", "")),
                          ("/staff//x/../report.csv#f", ("/staff/report.csv", "")),
                          ("/%73taff/", ("/staff/", ""))):
        assert staff_target(raw) == expected and _is_staff_path(raw), raw
    session = server.login()
    for path, status in (("//staff/login", 200), ("//staff/report.json", 200), ("/staff//report.json", 200)):
        response = server.get(path, session)
        assert response.status_code == status, (path, response.status_code, response.text[:200])
    assert 'name="login_token"' in server.get("//staff/login").text
    assert "application/json" in server.get("//staff/report.json", session).headers["Content-Type"]
    assert server.get("//staff/report.json").status_code == 401


def test_a_client_that_never_sends_its_body_is_disconnected(server, monkeypatch):
    import socket
    import time

    from bot import web

    assert 0 < web.WebHandler.timeout <= 60  # the real setting; the test waits for a shorter one
    monkeypatch.setattr(web.WebHandler, "timeout", 1)
    host, port = server.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"POST /staff/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                       b"\r\nContent-Length: 100\r\n\r\nabc")
        try:
            answer = client.recv(4096)  # b"" when the server closes the connection
        except ConnectionResetError:
            answer = b""
    assert answer == b"" and time.monotonic() - started < 8
    assert server.get("/staff/login").status_code == 200  # the server still serves


def test_wrong_password_is_refused(server):
    response = server.try_login("not-the-password")
    assert response.status_code == 401
    assert "Wrong password" in response.text
    assert SESSION_COOKIE not in set_cookies(response)
    assert_refused(server, None, "after a wrong password")


def test_login_sets_a_strict_cookie_and_logout_ends_the_session(server):
    response = server.try_login(server.password)
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"
    cookie = set_cookies(response)[SESSION_COOKIE]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/staff", "Secure", f"Max-Age={30 * 60}"):
        assert attribute in cookie
    session = cookie_value(cookie)
    assert server.get("/staff/", session).status_code == 200
    refused = server.post("/staff/logout", {}, session)
    assert refused.status_code == 403  # no CSRF token: stays logged in
    assert server.get("/staff/", session).status_code == 200
    out = server.post("/staff/logout", {"csrf_token": server.csrf(session)}, session)
    assert out.status_code == 303 and "Max-Age=0" in set_cookies(out)[SESSION_COOKIE]
    assert_refused(server, session, "after logout, replaying the old cookie")


def test_login_needs_its_form_token(server):
    cookie, token = server.login_form()
    for data, cookies in (({"password": server.password}, {}),
                          ({"password": server.password, "login_token": token}, {}),
                          ({"password": server.password, "login_token": "forged"}, {LOGIN_COOKIE: cookie}),
                          ({"password": server.password, "login_token": token}, {LOGIN_COOKIE: f"{token}.forged"})):
        response = server.post("/staff/login", data, cookies=cookies)
        assert response.status_code == 403, data
        assert SESSION_COOKIE not in set_cookies(response)
    foreign = server.post("/staff/login", {"password": server.password, "login_token": token},
                          cookies={LOGIN_COOKIE: cookie}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403



def test_another_apps_malformed_cookie_does_not_block_the_login(server):
    from bot.staff.pages import Request

    assert Request.parse_cookies('a=b c; staff_session=x') == {"a": "b c", "staff_session": "x"}
    assert Request.parse_cookies(' theme="dark"; junk; =v; k=v=w;staff_session=s; staff_session=t') == {
        "theme": "dark", "k": "v=w", "staff_session": "s"}
    assert Request.parse_cookies(None) == {} and Request.parse_cookies("") == {}
    cookie, token = server.login_form()
    response = server.post("/staff/login", {"password": server.password, "login_token": token},
                           cookies={"other_app": "[1, 2] {x}", LOGIN_COOKIE: cookie, "prefs": '"a b"'})
    assert response.status_code == 303, response.text
    session = cookie_value(set_cookies(response)[SESSION_COOKIE])
    page = server.get("/staff/", headers={"Cookie": f"other_app=a b,c; {SESSION_COOKIE}={session}"})
    assert page.status_code == 200



def test_non_ascii_tokens_are_refused_with_a_page_not_a_dropped_connection(server, monkeypatch):
    cookie, token = server.login_form()
    for data, cookies in (({"password": server.password, "login_token": "jeton-é"}, {LOGIN_COOKIE: cookie}),
                          ({"password": server.password, "login_token": token}, {LOGIN_COOKIE: f"{token}.sïg"})):
        response = server.post("/staff/login", data, cookies=cookies)
        assert response.status_code == 403, data
        assert SESSION_COOKIE not in set_cookies(response)
    session = server.login()
    refused = server.post("/staff/logout", {"csrf_token": "é" * 43}, session)
    assert refused.status_code == 403 and "Form expired" in refused.text
    assert server.get("/staff/", session).status_code == 200  # still logged in
    expiry, nonce, _ = session.split(".")
    assert server.get("/staff/", f"{expiry}.{nonce}.ça").status_code == 303  # to the login page
    assert not auth.verify_password("mot-de-passe-é", {"algorithm": "scrypt", "n": 2, "r": 1, "p": 1,
                                                       "salt": "00", "hash": "é"})

    def broken(request, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(server.app, "login", broken)  # a public route that fails answers like any other page
    cookie, token = server.login_form()
    response = server.post("/staff/login", {"password": server.password, "login_token": token},
                           cookies={LOGIN_COOKIE: cookie})
    assert response.status_code == 500 and "Something went wrong" in response.text
    assert "Traceback" not in response.text and "boom" not in response.text


def test_next_only_leads_to_staff_pages(server):
    cookie, token = server.login_form()
    for target, expected in (("/staff/freshness", "/staff/freshness"), ("https://evil.example/", "/staff/"),
                             ("//evil.example/staff/", "/staff/"), ("/staff//evil.example", "/staff/")):
        response = server.post("/staff/login", {"password": server.password, "login_token": token, "next": target},
                               cookies={LOGIN_COOKIE: cookie})
        assert response.headers["Location"] == expected


def test_an_expired_session_is_refused(server):
    session = server.login()
    server.clock.advance(minutes=29)
    assert server.get("/staff/", session).status_code == 200
    server.clock.advance(minutes=1, seconds=1)
    assert_refused(server, session, "expired")


def test_forged_and_tampered_cookies_are_refused(server, tmp_path):
    session = server.login()
    expiry, nonce, signature = session.split(".")
    other, stop = start_staff_server(tmp_path / "other-data")  # same code, another secret
    try:
        foreign = other.login()
    finally:
        stop()
    forged = [
        "anything",
        f"{int(expiry) + 86400}.{nonce}.{signature}",           # expiry pushed back
        f"{expiry}.{nonce}x.{signature}",                       # another nonce
        f"{expiry}.{nonce}.{signature[:-2]}AA",                 # signature changed
        f"{expiry}.{nonce}.",                                   # no signature
        foreign,                                                # valid, but signed with another server's secret
        f"{expiry}.{nonce}.{signature}.extra",
    ]
    for cookie in forged:
        assert_refused(server, cookie, f"forged {cookie!r}")
    assert server.get("/staff/", session).status_code == 200  # the real one still works


def test_a_password_reset_ends_every_session(server):
    session = server.login()
    server.password = auth.reset_password(server.app.data_dir)
    assert_refused(server, session, "after a password reset")
    assert server.get("/staff/", server.login()).status_code == 200


def test_five_failures_lock_the_client_out_for_fifteen_minutes(server):
    for _ in range(5):
        assert server.try_login("wrong").status_code == 401
    locked = server.try_login(server.password)
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text and SESSION_COOKIE not in set_cookies(locked)
    server.clock.advance(minutes=14, seconds=59)
    assert server.try_login(server.password).status_code == 429
    server.clock.advance(seconds=2)
    assert server.try_login(server.password).status_code == 303


def test_failures_are_counted_per_client_and_a_success_resets_them():
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(4):
        throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0
    throttle.succeeded("10.0.0.1")
    for _ in range(4):
        throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0  # the earlier four were forgotten on success
    throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == pytest.approx(15 * 60)
    assert throttle.locked_for("10.0.0.2") == 0
    now[0] += 16 * 60  # failures older than the window do not add up
    for _ in range(4):
        throttle.failed("10.0.0.2")
        now[0] += 4 * 60
    throttle.failed("10.0.0.2")
    assert throttle.locked_for("10.0.0.2") == 0


def test_posts_need_the_session_csrf_token(server, tmp_path):
    from bot.staff.gaps import handled_keys

    session = server.login()
    other_session = server.login()
    token = server.csrf(session)
    key = "0123456789abcdef"
    for data, headers in (({"key": key}, {}),
                          ({"key": key, "csrf_token": "forged"}, {}),
                          ({"key": key, "csrf_token": server.csrf(other_session)}, {}),
                          ({"key": key, "csrf_token": token}, {"Origin": "http://evil.example"})):
        response = server.post("/staff/gaps/handled", data, session, headers=headers)
        assert response.status_code == 403, (data, headers)
    assert handled_keys(server.app.state_db) == set()
    accepted = server.post("/staff/gaps/handled", {"key": key, "handled": "1", "csrf_token": token}, session,
                           headers={"Origin": server.url})
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/staff/gaps"
    assert handled_keys(server.app.state_db) == {key}


# ---------------------------------------------------------------- the password itself


def test_a_password_is_generated_once_and_only_its_hash_is_stored(data_dir):
    password = auth.ensure_password(data_dir)
    assert password and len(password) >= 16
    assert auth.ensure_password(data_dir) is None  # never a second one, never printed again
    stored = auth.auth_path(data_dir)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    text = stored.read_text()
    assert password not in text
    record = json.loads(text)["password"]
    assert record["algorithm"] == "scrypt" and len(bytes.fromhex(record["salt"])) == 16
    assert auth.verify_password(password, record) and not auth.verify_password(password + "x", record)
    checker = StaffAuth(data_dir)
    assert checker.check_password(password) and not checker.check_password("")


def test_without_any_password_the_login_page_says_how_to_set_one(tmp_path, monkeypatch):
    from bot.staff.pages import Request, StaffApp

    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    app = StaffApp(tmp_path / "fresh")
    response = app.handle(Request("GET", "/staff/login"))
    assert response.status == 503
    assert b"python -m bot staff reset-password" in response.body and b'name="password"' not in response.body
    refused = app.handle(Request("POST", "/staff/login", form={"password": ""}, client="10.0.0.9"))
    assert refused.status in (401, 403, 503) and refused.header("Set-Cookie") is None


def test_the_redirect_to_login_comes_back_to_the_page_asked_for(server):
    response = server.get("/staff/report?from=2026-11-01&to=2026-11-20")
    assert response.headers["Location"] == "/staff/login?next=%2Fstaff%2Freport%3Ffrom%3D2026-11-01%26to%3D2026-11-20"
    cookie, token = server.login_form()
    done = server.post("/staff/login", {"password": server.password, "login_token": token,
                                        "next": "/staff/report?from=2026-11-01&to=2026-11-20"},
                       cookies={LOGIN_COOKIE: cookie})
    assert done.headers["Location"] == "/staff/report?from=2026-11-01&to=2026-11-20"


def test_staff_password_setting_wins_and_nothing_is_generated(data_dir, monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", "correct horse battery staple")
    assert auth.ensure_password(data_dir) is None
    assert not (json.loads(auth.auth_path(data_dir).read_text()).get("password"))
    checker = StaffAuth(data_dir)
    assert checker.check_password("correct horse battery staple")
    assert not checker.check_password("correct horse battery stapl")


def test_there_is_no_default_password(data_dir):
    checker = StaffAuth(data_dir)
    assert not checker.has_password()
    for guess in ("", "admin", "password", "staff", "changeme"):
        assert not checker.check_password(guess)


def test_the_run_command_prints_the_generated_password_once(data_dir, monkeypatch, capsys):
    from bot import services

    class ExitedProcess:
        returncode = 0

        def poll(self):
            return 0

    class FakeStack:
        """The started services, stand-ins: this test is about what `run` prints, not about starting Rasa."""
        web_url, rasa_url, actions_url = "http://127.0.0.1:8000", "http://127.0.0.1:5005", "http://127.0.0.1:5055"

        def __init__(self):
            self.processes = {"web": ExitedProcess()}

        def stop(self):
            pass

    monkeypatch.setattr(services, "prepare", lambda: (data_dir, data_dir / "model.tar.gz"))
    monkeypatch.setattr(services, "start_stack", lambda *args: FakeStack())
    monkeypatch.setattr(services.FeedRefresher, "start", lambda self: None)
    outputs = []
    for _ in range(2):
        services.cmd_run(argparse.Namespace())
        outputs.append(capsys.readouterr().out)
    found = re.search(r"generated.*?\n\n\s+(\S+)\n", outputs[0], re.S)
    assert found, outputs[0]
    password = found.group(1)
    assert "reset-password" in outputs[0] and "http://127.0.0.1:8000/staff/" in outputs[0]
    assert password not in outputs[1] and "generated" not in outputs[1]
    assert password not in auth.auth_path(data_dir).read_text()
    assert StaffAuth(data_dir).check_password(password)



def test_a_failed_start_still_shows_the_generated_password_and_it_works(data_dir, monkeypatch, capsys):
    """The hash is stored before the services start: the password is printed first, or it would be lost."""
    from bot import services

    def failing_start(*args):
        print("starting ...")
        raise RuntimeError("The Rasa server exited with code 1")

    monkeypatch.setattr(services, "prepare", lambda: (data_dir, data_dir / "model.tar.gz"))
    monkeypatch.setattr(services, "start_stack", failing_start)
    with pytest.raises(RuntimeError):
        services.cmd_run(argparse.Namespace())
    out = capsys.readouterr().out
    found = re.search(r"generated.*?\n\n\s+(\S+)\n", out, re.S)
    assert found and out.index(found.group(1)) < out.index("starting ..."), out
    assert StaffAuth(data_dir).check_password(found.group(1))


def test_processes_starting_at_once_agree_on_one_password(data_dir):
    barrier = threading.Barrier(6)
    returned = []

    def start():
        barrier.wait()
        returned.append(auth.ensure_password(data_dir))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    generated = [p for p in returned if p is not None]
    assert len(returned) == 6 and len(generated) == 1, returned  # only one was printed ...
    assert StaffAuth(data_dir).check_password(generated[0])  # ... and it is the one that works


def test_reset_password_command_prints_a_new_password_that_works(data_dir):
    first = auth.ensure_password(data_dir)
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(settings.PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "staff", "reset-password"], cwd=settings.PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    new = re.search(r"\n\n\s+(\S+)\n", result.stdout).group(1)
    checker = StaffAuth(data_dir)
    assert checker.check_password(new) and not checker.check_password(first)
    assert new not in auth.auth_path(data_dir).read_text()

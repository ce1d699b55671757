"""Who may open the staff pages: one staff password, signed session cookies, CSRF tokens and a login lockout.

- The password is the STAFF_PASSWORD setting when set; otherwise `python -m bot run` generates one on first
  start and prints it once, and `python -m bot staff reset-password` makes a new one. Only a salted scrypt
  hash is kept, in DATA_DIR/staff_auth.json (mode 0600), next to the secret that signs the session cookies.
- A session is a cookie `<expiry>.<nonce>.<signature>`: HMAC-SHA256 over the expiry, the nonce and a tag of
  the current password, so a reset password (or a changed STAFF_PASSWORD) ends every session. Nothing is kept
  on the server except the revoked nonces of sessions that logged out.
- The CSRF token of a session is derived from its nonce with the same secret (a synchronizer token that needs
  no server storage); the login form uses a signed double-submit cookie instead, as there is no session yet.
- Lockout: five failed logins from one client address within 15 minutes lock that address out for 15 minutes
  (kept in memory, so a restart forgets it).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from bot import settings

AUTH_FILE = "staff_auth.json"
SESSION_COOKIE = "staff_session"
LOGIN_COOKIE = "staff_login"
MAX_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
# scrypt cost: 16 MiB and about 50 ms per check, which also slows password guessing.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class StaffAuthError(Exception):
    """The staff password file cannot be read or written."""


# ---------------------------------------------------------------- password hashing


def hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    """A salted scrypt hash of `password`, as a JSON-ready record."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return {"algorithm": "scrypt", **_SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def _same(expected: str, given: str) -> bool:
    """Constant-time equality of two strings; compare_digest refuses str with non-ASCII characters (TypeError),
    so both are compared as UTF-8 bytes (surrogates from undecodable input included)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass"))


def verify_password(password: str, record: dict[str, Any]) -> bool:
    """Whether `password` matches a record made by hash_password (in constant time)."""
    try:
        if record.get("algorithm") != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(record["salt"]), dklen=32,
                                n=int(record["n"]), r=int(record["r"]), p=int(record["p"]))
        return _same(digest.hex(), str(record["hash"]))
    except (KeyError, TypeError, ValueError):
        return False


def generate_password() -> str:
    """A new random password: 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


# ---------------------------------------------------------------- the file in DATA_DIR


def auth_path(data_dir: Path) -> Path:
    return Path(data_dir) / AUTH_FILE


def _read(data_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads(auth_path(data_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise StaffAuthError(f"cannot read {auth_path(data_dir)}: {error}") from None


def _write(data_dir: Path, state: dict[str, Any], replace: bool) -> bool:
    """Writes the file with mode 0600; without `replace` only if it does not exist yet (False if it did)."""
    target = auth_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=2)
    try:
        if replace:
            os.replace(temporary, target)
            return True
        try:
            os.link(temporary, target)  # atomic "create if absent": two processes starting at once agree
            return True
        except FileExistsError:
            return False
    finally:
        temporary.unlink(missing_ok=True)


def _state(data_dir: Path) -> dict[str, Any]:
    """The file's contents, creating it (with a new session secret and no password) when missing."""
    state = _read(data_dir)
    if state is None:
        _write(data_dir, {"session_secret": secrets.token_hex(32), "password": None}, replace=False)
        state = _read(data_dir) or {}
    if not state.get("session_secret"):
        raise StaffAuthError(f"{auth_path(data_dir)} has no session secret; run `python -m bot staff reset-password`")
    return state


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Holds an exclusive lock on DATA_DIR/.staff_auth.lock around a read-modify-write of the file."""
    lock_file = Path(data_dir) / f".{AUTH_FILE}.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_password(data_dir: Path) -> str | None:
    """Makes sure there is a staff password; returns a newly generated one (to print once), else None.

    None when STAFF_PASSWORD is set or a password hash is already stored.
    """
    with _exclusive(data_dir):  # two processes starting at once: one generates, the other sees its hash
        state = _state(data_dir)
        if settings.get("STAFF_PASSWORD") or state.get("password"):
            return None
        password = generate_password()
        _write(data_dir, {**state, "password": hash_password(password)}, replace=True)
    return password


def reset_password(data_dir: Path, password: str | None = None) -> str:
    """Stores the hash of a new password (generated unless given) and a new secret, ending every session."""
    password = password or generate_password()
    with _exclusive(data_dir):
        _write(data_dir, {"session_secret": secrets.token_hex(32), "password": hash_password(password)},
               replace=True)
    return password


def password_notice(password: str, web_url: str) -> str:
    """What the run command prints, once, after generating the password."""
    return (f"\nStaff pages: {web_url}/staff/\n"
            f"  A staff password was generated (shown only this once; only its hash is kept in "
            f"{AUTH_FILE}):\n\n      {password}\n\n"
            "  To change it: `python -m bot staff reset-password` (prints a new one), or set STAFF_PASSWORD.\n")


# ---------------------------------------------------------------- sessions, CSRF and lockout


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class LoginThrottle:
    """Failed logins per client; MAX_FAILURES within LOCKOUT_SECONDS lock the client out for LOCKOUT_SECONDS."""

    clock: Callable[[], float] = time.time
    max_failures: int = MAX_FAILURES
    lockout_seconds: float = LOCKOUT_SECONDS
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked_for(self, client: str) -> float:
        """Seconds left of this client's lockout; 0 when it may try."""
        with self._lock:
            left = self._locked_until.get(client, 0) - self.clock()
            if left <= 0:
                self._locked_until.pop(client, None)
                return 0
            return left

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) > 10_000:  # many addresses guessing: forget those whose failures are old
                self._failures = {c: ts for c, ts in self._failures.items() if ts and now - ts[-1] < self.lockout_seconds}
            recent = [t for t in self._failures.get(client, []) if now - t < self.lockout_seconds] + [now]
            if len(recent) >= self.max_failures:
                self._locked_until[client] = now + self.lockout_seconds
                recent = []
            self._failures[client] = recent

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


class StaffAuth:
    """Checks the password and issues and checks session cookies and CSRF tokens for one DATA_DIR.

    `clock` returns seconds since the epoch; tests pin it. The file is read on every check, so a password
    reset by the command line takes effect in the running web server at once.
    """

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time,
                 session_minutes: float | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.session_minutes = session_minutes
        self.throttle = LoginThrottle(clock=clock)
        self._revoked: dict[str, float] = {}  # nonce -> expiry, for sessions that logged out
        self._revoked_lock = threading.Lock()

    @property
    def session_seconds(self) -> float:
        minutes = self.session_minutes if self.session_minutes is not None else settings.get_int("STAFF_SESSION_MINUTES")
        return float(minutes) * 60

    def _secret(self) -> bytes:
        return bytes.fromhex(_state(self.data_dir)["session_secret"])

    def _sign(self, *parts: str) -> str:
        return _b64(hmac.new(self._secret(), "|".join(parts).encode("utf-8"), hashlib.sha256).digest())

    def _password_tag(self) -> str:
        """Changes whenever the password does, so that sessions from before a change stop working."""
        configured = settings.get("STAFF_PASSWORD")
        if configured:
            return self._sign("setting", configured)[:16]
        record = _state(self.data_dir).get("password") or {}
        return str(record.get("hash", "none"))[:16]

    def has_password(self) -> bool:
        return bool(settings.get("STAFF_PASSWORD") or _state(self.data_dir).get("password"))

    def check_password(self, password: str) -> bool:
        configured = settings.get("STAFF_PASSWORD")
        if configured:
            # Compare digests so the time taken says nothing about the length of the setting.
            return hmac.compare_digest(hashlib.sha256(password.encode("utf-8")).digest(),
                                       hashlib.sha256(configured.encode("utf-8")).digest())
        record = _state(self.data_dir).get("password")
        return bool(record) and verify_password(password, record)

    # sessions

    def issue_session(self) -> str:
        expiry = str(int(self.clock() + self.session_seconds))
        nonce = secrets.token_urlsafe(16)
        return f"{expiry}.{nonce}.{self._sign('session', expiry, nonce, self._password_tag())}"

    def session_nonce(self, cookie: str | None) -> str | None:
        """The nonce of a valid, unexpired, not revoked session cookie; None for anything else."""
        if not cookie or cookie.count(".") != 2:
            return None
        expiry, nonce, signature = cookie.split(".")
        if not expiry.isdigit() or not nonce:
            return None
        try:
            expected = self._sign("session", expiry, nonce, self._password_tag())
        except StaffAuthError:
            return None
        if not _same(expected, signature) or int(expiry) <= self.clock():
            return None
        with self._revoked_lock:
            if nonce in self._revoked:
                return None
        return nonce

    def revoke(self, cookie: str | None) -> None:
        nonce = self.session_nonce(cookie)
        if nonce is None:
            return
        with self._revoked_lock:
            now = self.clock()
            for old in [n for n, until in self._revoked.items() if until <= now]:
                del self._revoked[old]
            self._revoked[nonce] = float(str(cookie).split(".")[0])

    def csrf_token(self, nonce: str) -> str:
        return self._sign("csrf", nonce)

    def check_csrf(self, nonce: str, token: str | None) -> bool:
        return bool(token) and _same(self.csrf_token(nonce), str(token))

    # the login form's double-submit token

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form value) for the login form."""
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._sign('login', nonce)}", nonce

    def check_login_token(self, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value or cookie.count(".") != 1:
            return False
        nonce, signature = cookie.split(".")
        return _same(self._sign("login", nonce), signature) and _same(nonce, form_value)


# ---------------------------------------------------------------- command line


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("staff", help="manage access to the staff pages")
    commands = parser.add_subparsers(dest="staff_command", metavar="ACTION")
    commands.required = True
    reset = commands.add_parser("reset-password", help="generate a new staff password, print it once, end sessions")
    reset.set_defaults(handler=cmd_reset_password)


def cmd_reset_password(args: argparse.Namespace) -> int:
    data_dir = settings.data_dir()
    try:
        password = reset_password(data_dir)
    except (OSError, StaffAuthError) as error:
        print(f"could not reset the staff password: {error}", file=sys.stderr)
        return 1
    print(f"New staff password (shown only this once; only its hash is kept in {auth_path(data_dir)}):\n\n"
          f"    {password}\n\nEvery open staff session has ended.")
    if settings.get("STAFF_PASSWORD"):
        print("note: STAFF_PASSWORD is set, and it wins over this password while it is set.", file=sys.stderr)
    return 0

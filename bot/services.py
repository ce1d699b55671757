"""Builds what must be built and runs the three services: action server, Rasa server and web page.

`python -m bot run` is what `make run` calls; the tests start the same processes through
`start_stack`, on free ports and a temporary data directory.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from bot import settings

ROOT = settings.PROJECT_ROOT
TRAINING_INPUTS = ("config.yml", "domain", "data")


# ---------------------------------------------------------------- environment


def api_token(data_dir: Path) -> str:
    """Rasa's HTTP API token: the setting if given, else one generated once and kept in the data directory."""
    configured = settings.get("RASA_API_TOKEN")
    if configured:
        return configured
    token_file = data_dir / "rasa_api_token"
    if not token_file.exists():
        token_file.write_text(secrets.token_urlsafe(24))
        token_file.chmod(0o600)
    return token_file.read_text().strip()


def service_env(data_dir: Path, actions_port: int, host: str,
                overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every Rasa process gets: endpoints.yml reads its values from here.

    `overrides` are settings for this one process (a cluster node's action endpoint, tracker store and
    REDIS_URL); they win over the environment.
    """
    overrides = dict(overrides or {})

    def value(name: str) -> str:
        return overrides.get(name) or settings.get(name)

    env = dict(os.environ)
    env.update(overrides)
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
            "ACTION_ENDPOINT_URL": value("ACTION_ENDPOINT_URL") or f"http://{host}:{actions_port}/webhook",
            "TRACKER_STORE_URL": value("TRACKER_STORE_URL") or f"sqlite:///{data_dir / 'tracker.db'}",
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    return env


# ---------------------------------------------------------------- training


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml"}))
        elif path.exists():
            found.append(path)
    return found


def training_fingerprint(knowledge_dir: Path | None = None) -> tuple[str, str]:
    """(model fingerprint, questions fingerprint): a change to either means the model must be retrained."""
    from bot.nlu.importer import topic_training_data

    import rasa

    questions = topic_training_data(knowledge_dir or settings.path("KNOWLEDGE_DIR"))
    questions_sha = hashlib.sha256(json.dumps(questions, sort_keys=True).encode()).hexdigest()
    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    for path in _files(ROOT / name for name in TRAINING_INPUTS):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(questions_sha.encode())
    return digest.hexdigest()[:16], questions_sha


def models_dir(data_dir: Path) -> Path:
    directory = data_dir / "models"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def ensure_model(data_dir: Path, force: bool = False, quiet: bool = False) -> Path:
    """The trained model for the current training data, training it only when its fingerprint is new."""
    fingerprint, questions_sha = training_fingerprint()
    model = models_dir(data_dir) / f"navigator-{fingerprint}.tar.gz"
    if model.exists() and not force:
        if not quiet:
            print(f"Model is up to date: {model.relative_to(ROOT) if model.is_relative_to(ROOT) else model}")
        _write_latest(data_dir, model, fingerprint, questions_sha)
        return model
    log = logs_dir(data_dir) / "train.log"
    print(f"Training the model (training data changed); log: {log} ...", flush=True)
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain",
             "--data", "data", "--out", str(models_dir(data_dir)), "--fixed-model-name", model.name[:-7]],
            cwd=ROOT, env=service_env(data_dir, 0, "127.0.0.1"), stdout=out, stderr=subprocess.STDOUT,
        )
    if result.returncode != 0 or not model.exists():
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit("Training failed:\n" + "\n".join(tail))
    print(f"Trained in {time.monotonic() - started:.0f} s: {model}", flush=True)
    _write_latest(data_dir, model, fingerprint, questions_sha)
    return model


def _write_latest(data_dir: Path, model: Path, fingerprint: str, questions_sha: str) -> None:
    latest = {"model": str(model), "fingerprint": fingerprint, "questions_sha256": questions_sha}
    (models_dir(data_dir) / "latest.json").write_text(json.dumps(latest, indent=2))


def logs_dir(data_dir: Path) -> Path:
    directory = data_dir / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# ---------------------------------------------------------------- knowledge


def ensure_knowledge(data_dir: Path) -> None:
    """Rebuilds knowledge.db when the knowledge files changed; a broken edit keeps the last good store."""
    from bot.knowledge.build import KnowledgeBuildError, ensure_built

    db_path = data_dir / "knowledge.db"
    try:
        if ensure_built(settings.path("KNOWLEDGE_DIR"), db_path):
            print(f"Knowledge store rebuilt: {db_path}")
    except KnowledgeBuildError as error:
        print(str(error), file=sys.stderr)
        if not db_path.exists():
            raise SystemExit("The knowledge files have problems and there is no earlier good store to serve.")
        print("Serving the last good knowledge store until the files are fixed.", file=sys.stderr)


# ---------------------------------------------------------------- processes


@dataclass
class Stack:
    """The three running services."""

    host: str
    rasa_port: int
    actions_port: int
    web_port: int | None
    data_dir: Path
    token: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # Settings for these processes only, over the environment (a cluster node's action endpoint, stores).
    env: dict[str, str] = field(default_factory=dict)
    # Appended to log file names, so several stacks can share one data directory (rasa-1.log, rasa-2.log).
    label: str = ""

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def start_actions(self) -> None:
        env = service_env(self.data_dir, self.actions_port, self.host, self.env)
        self._spawn("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                                "--port", str(self.actions_port)], env)
        _wait_for(f"{self.actions_url}/health", "action server", 60, self.processes["actions"])

    def start_rasa(self, model: Path) -> None:
        env = service_env(self.data_dir, self.actions_port, self.host, self.env)
        self._spawn("rasa", [sys.executable, "-m", "rasa", "run", "--model", str(model),
                             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
                             "--interface", self.host, "--port", str(self.rasa_port),
                             "--cors", settings.get("CORS_ORIGINS"), "--enable-api", f"--auth-token={self.token}"],
                    env)
        _wait_for(f"{self.rasa_url}/status?token={self.token}", "Rasa server", 240, self.processes["rasa"],
                  ready=lambda body: bool(json.loads(body).get("model_file")))

    def start_web(self) -> None:
        env = service_env(self.data_dir, self.actions_port, self.host, self.env)
        env["PUBLIC_RASA_URL"] = settings.get("PUBLIC_RASA_URL") or self.rasa_url
        self._spawn("web", [sys.executable, "-m", "bot", "web", "--host", self.host,
                            "--port", str(self.web_port)], env)
        _wait_for(f"{self.web_url}/", "web page", 30, self.processes["web"])

    def _spawn(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        log = (logs_dir(self.data_dir) / f"{name}{self.label}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, name: str | None = None, timeout: float = 15) -> None:
        names = [name] if name else list(reversed(list(self.processes)))
        for key in names:
            process = self.processes.pop(key, None)
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_for(url: str, what: str, timeout: float, process: subprocess.Popen, ready=lambda body: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The {what} exited with code {process.returncode}; see its log in the data directory.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and ready(response.read()):
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"The {what} did not become ready within {timeout:.0f} s ({url}).")


def start_stack(data_dir: Path, model: Path, host: str, rasa_port: int, actions_port: int,
                web_port: int | None) -> Stack:
    stack = Stack(host, rasa_port, actions_port, web_port, data_dir, api_token(data_dir))
    try:
        stack.start_actions()
        stack.start_rasa(model)
        if web_port is not None:
            stack.start_web()
    except BaseException:
        stack.stop()
        raise
    return stack


# ---------------------------------------------------------------- opportunity feeds


class FeedRefresher(threading.Thread):
    """Refreshes the tender feeds at start and then every FEED_REFRESH_HOURS, in the background.

    A failure keeps the last good listings (or the bundled snapshot); each source's problem is printed once,
    not at every attempt, so an offline machine says so once.
    """

    def __init__(self, every_hours: float, offline: bool) -> None:
        super().__init__(name="feed-refresher", daemon=True)
        self.every_seconds = max(60.0, every_hours * 3600)
        self.offline = offline
        self.stopped = threading.Event()
        self._said: dict[str, str] = {}

    def run(self) -> None:
        while not self.stopped.is_set():
            self.refresh_once()
            self.stopped.wait(self.every_seconds)

    def refresh_once(self) -> None:
        from bot import clock
        from bot.opportunities.refresh import refresh_all

        try:
            outcomes = refresh_all(offline=self.offline, now=clock.now())
        except Exception as error:  # a broken feed list must not take the assistant down
            self._say("feeds", f"could not refresh ({error}); serving the last good listings")
        else:
            for outcome in outcomes:
                self._say(outcome.source, f"{outcome.origin}: {outcome.message}")

    def _say(self, source: str, message: str) -> None:
        if self._said.get(source) != message:
            self._said[source] = message
            print(f"Opportunity feed {source}: {message}", flush=True)

    def stop(self) -> None:
        self.stopped.set()


# ---------------------------------------------------------------- commands


def prepare(force_train: bool = False) -> tuple[Path, Path]:
    data_dir = settings.data_dir()
    ensure_knowledge(data_dir)
    return data_dir, ensure_model(data_dir, force=force_train)


def cmd_run(args: argparse.Namespace) -> int:
    data_dir, model = prepare()
    from bot.staff.auth import ensure_password, password_notice

    host = settings.get("HOST")
    new_staff_password = ensure_password(data_dir)  # only its hash is stored: printed now, before anything can fail
    if new_staff_password:
        print(password_notice(new_staff_password, f"http://{host}:{settings.get_int('WEB_PORT')}"), flush=True)
    print("Starting the action server, the Rasa server (30-60 s to load the model) and the web page ...", flush=True)
    started = time.monotonic()
    stack = start_stack(data_dir, model, host, settings.get_int("RASA_PORT"), settings.get_int("ACTIONS_PORT"),
                        settings.get_int("WEB_PORT"))
    refresher = FeedRefresher(float(settings.get("FEED_REFRESH_HOURS")), settings.get_bool("OFFLINE"))
    refresher.start()
    print(f"\nSupplier Navigator is running (ready in {time.monotonic() - started:.0f} s):\n"
          f"  widget page     {stack.web_url}/\n"
          f"  Rasa REST       {stack.rasa_url}/webhooks/rest/webhook\n"
          f"  Rasa socket.io  {stack.rasa_url}/socket.io\n"
          f"  action server   {stack.actions_url}/webhook\n"
          f"  staff pages     {stack.web_url}/staff/\n"
          f"  logs            {logs_dir(data_dir)}\n"
          "Press Ctrl-C to stop.", flush=True)

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"The {name} process exited (code {process.returncode}); stopping. "
                          f"See {logs_dir(data_dir) / (name + '.log')}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        refresher.stop()
        stack.stop()
        print("Stopped.", flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    prepare(force_train=args.force)
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    data_dir, model = prepare()
    host = settings.get("HOST")
    stack = Stack(host, 0, settings.get_int("ACTIONS_PORT"), None, data_dir, "")
    stack.start_actions()
    try:
        env = service_env(data_dir, stack.actions_port, host)
        return subprocess.call([sys.executable, "-m", "rasa", "shell", "--model", str(model),
                                "--endpoints", "endpoints.yml", "--port", settings.get("RASA_PORT")],
                               cwd=ROOT, env=env)
    finally:
        stack.stop()


def cmd_web(args: argparse.Namespace) -> int:
    from bot.privacy import RetentionPurger
    from bot.web import serve

    # The web process runs in every deployment (`run`, `cluster`, compose's widget), next to the staff pages
    # and with the same stores: it purges concierge requests older than CONCIERGE_RETENTION_DAYS, at start
    # and then daily.
    purger = RetentionPurger()
    purger.start()
    try:
        serve(args.host or settings.get("HOST"), args.port or settings.get_int("WEB_PORT"))
    finally:
        purger.stop()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="build what is needed and start all three services")
    run.set_defaults(handler=cmd_run)
    train = subparsers.add_parser("train", help="train the model if the training data changed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    train.set_defaults(handler=cmd_train)
    shell = subparsers.add_parser("shell", help="chat in the terminal")
    shell.set_defaults(handler=cmd_shell)
    web = subparsers.add_parser("web", help="serve the widget page only")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    web.set_defaults(handler=cmd_web)

"""`python -m bot cluster`: Rasa's scale-out model on one machine.

    PostgreSQL ─ tracker store + shared writes (handoffs)        Redis ─ lock store
         ▲                                                           ▲
         └──────────── Rasa server 1 … N ────────────────────────────┘
                          ▲        │ actions
    nginx :RASA_PORT ─────┘        └──▶ nginx :ACTIONS_PORT ──▶ action server 1 … N
    (sticky by conversation)            (round-robin)
    widget page :WEB_PORT (talks to nginx :RASA_PORT)

PostgreSQL, Redis and nginx are Debian's packages (scripts/cluster-deps.sh installs them when missing), run as
this machine's own instances: PostgreSQL's data lives in DATA_DIR/cluster/postgres (so conversations survive a
restart), Redis keeps nothing on disk (locks are short-lived), nginx's configuration is rendered from
deploy/nginx/navigator.conf.template. Everything listens on HOST (loopback by default); the servers behind
nginx take free ports. When TRACKER_STORE_URL already names a PostgreSQL database, or REDIS_URL is set, those
are used instead of starting local ones.

Every node shares DATA_DIR, so a `knowledge build` or `opportunities refresh` (which swap their file
atomically) reaches every action server at once.
"""
from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bot import settings
from bot.services import ROOT, Stack, api_token, logs_dir, prepare
from bot.shared_store import is_server_database

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "navigator.conf.template"
DEPS_SCRIPT = ROOT / "scripts" / "cluster-deps.sh"
DB_USER = DB_NAME = "navigator"


class ClusterError(RuntimeError):
    """A part of the cluster could not be started."""


# ---------------------------------------------------------------- helpers


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports free on `host` now (all held open while choosing, so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def ensure_packages() -> None:
    """Installs PostgreSQL, Redis and nginx from Debian's packages when one is missing (a no-op otherwise)."""
    if _postgres_bin("postgres", required=False) and shutil.which("redis-server") and _nginx_bin(required=False):
        return
    result = subprocess.run(["bash", str(DEPS_SCRIPT)])
    if result.returncode != 0:
        raise ClusterError(f"{DEPS_SCRIPT.name} could not install PostgreSQL, Redis and nginx "
                           f"(exit {result.returncode})")


def _postgres_bin(name: str, required: bool = True) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    found = candidates[-1] if candidates else shutil.which(name)
    if found is None and required:
        raise ClusterError(f"PostgreSQL's {name} was not found; run {DEPS_SCRIPT.relative_to(ROOT)}")
    return found


def _nginx_bin(required: bool = True) -> str | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None and required:
        raise ClusterError(f"nginx was not found; run {DEPS_SCRIPT.relative_to(ROOT)}")
    return found


def _secret(directory: Path, name: str) -> str:
    """A random password kept in `directory` (mode 0600), created on first use."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / name
    if not path.exists():
        path.write_text(secrets.token_hex(16))
        path.chmod(0o600)
    return path.read_text().strip()


def _wait(check: Callable[[], bool], what: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ClusterError(f"{what} exited with code {process.returncode}; see its log")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        time.sleep(0.2)
    raise ClusterError(f"{what} did not become ready within {timeout:.0f} s")


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- backing services


@dataclass
class Postgres:
    """A PostgreSQL instance of our own: data in `directory`, TCP on host:port only, password auth."""

    directory: Path
    secrets_dir: Path
    host: str
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def password(self) -> str:
        return _secret(self.secrets_dir, "postgres-password")

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}:{self.password}@{self.host}:{self.port}/{DB_NAME}"

    def _as_owner(self) -> dict:
        """PostgreSQL refuses to run as root: then it runs as Debian's postgres user."""
        return {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}

    def _initdb(self) -> None:
        if (self.directory / "PG_VERSION").exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        owner = self._as_owner()
        if owner:
            shutil.chown(self.directory, "postgres", "postgres")
            _check_reachable_by_postgres(self.directory)
        with tempfile.NamedTemporaryFile("w", delete=False, prefix="navigator-pw-") as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if owner:
                shutil.chown(pwfile.name, "postgres", "postgres")
            with self.log.open("ab") as out:
                result = subprocess.run(
                    [_postgres_bin("initdb"), "-D", str(self.directory), "-U", DB_USER, "--pwfile", pwfile.name,
                     "--auth=scram-sha-256", "-E", "UTF8", "--no-locale"],
                    cwd="/", stdout=out, stderr=subprocess.STDOUT, **owner)
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed (exit {result.returncode}); see {self.log}")

    def start(self) -> None:
        import psycopg2

        self._initdb()
        self.process = subprocess.Popen(
            [_postgres_bin("postgres"), "-D", str(self.directory), "-c", f"listen_addresses={self.host}",
             "-c", f"port={self.port}", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
            cwd="/", stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
            **self._as_owner())

        def connect(dbname: str):
            return psycopg2.connect(host=self.host, port=self.port, user=DB_USER, password=self.password,
                                    dbname=dbname, connect_timeout=2)

        _wait(lambda: connect("postgres").close() is None, "PostgreSQL", 60, self.process)
        connection = connect("postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{DB_NAME}"')
        finally:
            connection.close()

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGINT, 60)  # SIGINT: PostgreSQL's "fast" shutdown, all committed data kept
        self.process = None


def _check_reachable_by_postgres(directory: Path) -> None:
    for parent in directory.resolve().parents:
        if not os.stat(parent).st_mode & 0o001:
            raise ClusterError(f"PostgreSQL runs as the postgres user, which cannot enter {parent}; "
                               "use a DATA_DIR whose parent directories others may enter")


@dataclass
class Redis:
    """A Redis instance of our own for the lock store: loopback, password, nothing written to disk."""

    directory: Path
    secrets_dir: Path
    host: str
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{_secret(self.secrets_dir, 'redis-password')}@{self.host}:{self.port}/0"

    def start(self) -> None:
        import redis

        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "redis.conf"
        config.write_text(
            f"bind {self.host}\nport {self.port}\nprotected-mode yes\ndaemonize no\nsave \"\"\nappendonly no\n"
            f"dir {self.directory}\nlogfile \"\"\nrequirepass {_secret(self.secrets_dir, 'redis-password')}\n")
        config.chmod(0o600)
        self.process = subprocess.Popen(["redis-server", str(config)], cwd=self.directory,
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        _wait(lambda: client.ping(), "Redis", 30, self.process)
        client.close()

    def stop(self) -> None:
        _stop_process(self.process)
        self.process = None


@dataclass
class Nginx:
    """nginx in front: sticky by conversation to the Rasa servers, round-robin to the action servers."""

    directory: Path
    host: str
    rasa_port: int
    actions_port: int
    rasa_servers: list[str]
    action_servers: list[str]
    log: Path
    process: subprocess.Popen | None = None

    def render(self) -> str:
        """deploy/nginx/navigator.conf.template with this cluster's servers filled in."""
        values = {
            "RASA_SERVERS": " ".join(f"server {s};" for s in self.rasa_servers),
            "ACTION_SERVERS": " ".join(f"server {s};" for s in self.action_servers),
            "RASA_LISTEN": f"{self.host}:{self.rasa_port}",
            "ACTIONS_LISTEN": f"{self.host}:{self.actions_port}",
        }
        text = NGINX_TEMPLATE.read_text()
        for name, value in values.items():
            text = text.replace("${" + name + "}", value)
        return text

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "navigator.conf").write_text(self.render())
        temp = "\n".join(f"    {kind}_temp_path {self.directory / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        main = self.directory / "nginx.conf"
        main.write_text(
            "# Written by bot/cluster.py; the load balancer itself is navigator.conf.\n"
            f"worker_processes 1;\npid {self.directory / 'nginx.pid'};\nerror_log {self.log} warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    access_log off;\n{temp}\n    include {self.directory / 'navigator.conf'};\n}}\n")
        self.process = subprocess.Popen(
            [_nginx_bin(), "-e", str(self.log), "-p", str(self.directory), "-c", str(main), "-g", "daemon off;"],
            cwd=self.directory, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        _wait(lambda: _port_open(self.host, self.rasa_port) and _port_open(self.host, self.actions_port),
              "nginx", 30, self.process)

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGQUIT, 15)  # SIGQUIT: finish the requests in flight, then exit
        self.process = None


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    """N Rasa servers and N action servers behind nginx, sharing PostgreSQL, Redis and DATA_DIR.

    `rasa_port`, `actions_port` and `web_port` are the front doors (nginx and the widget page); the servers
    behind nginx take free ports, chosen once, so a restart reuses them.
    """

    data_dir: Path
    model: Path
    host: str
    rasa_port: int
    actions_port: int
    web_port: int | None
    servers: int = 2
    nodes: list[Stack] = field(default_factory=list)
    web: Stack | None = None
    postgres: Postgres | None = None
    redis: Redis | None = None
    nginx: Nginx | None = None
    tracker_store_url: str = ""
    redis_url: str = ""

    def __post_init__(self) -> None:
        self.directory = self.data_dir / "cluster"
        self.directory.mkdir(parents=True, exist_ok=True)
        logs = logs_dir(self.data_dir)
        secrets_dir = self.directory / "secrets"
        ports = iter(free_ports(2 + 2 * self.servers, self.host))
        configured_tracker = settings.get("TRACKER_STORE_URL")
        if is_server_database(configured_tracker):
            self.tracker_store_url = configured_tracker
        else:
            self.postgres = Postgres(self.directory / "postgres", secrets_dir, self.host, next(ports),
                                     logs / "postgres.log")
        self.redis_url = settings.get("REDIS_URL")
        if not self.redis_url:
            self.redis = Redis(self.directory / "redis", secrets_dir, self.host, next(ports), logs / "redis.log")
        token = api_token(self.data_dir)
        self.nodes = [Stack(self.host, next(ports), next(ports), None, self.data_dir, token, label=f"-{i + 1}")
                      for i in range(self.servers)]
        self.nginx = Nginx(self.directory / "nginx", self.host, self.rasa_port, self.actions_port,
                           [f"{self.host}:{n.rasa_port}" for n in self.nodes],
                           [f"{self.host}:{n.actions_port}" for n in self.nodes], logs / "nginx.log")
        if self.web_port is not None:
            # The widget page's Stack has nginx's ports as its "Rasa server" and "action server".
            self.web = Stack(self.host, self.rasa_port, self.actions_port, self.web_port, self.data_dir, token)

    @property
    def token(self) -> str:
        return self.nodes[0].token

    @property
    def rasa_url(self) -> str:
        """nginx's front door to the Rasa servers."""
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def node_env(self) -> dict[str, str]:
        return {"TRACKER_STORE_URL": self.tracker_store_url, "REDIS_URL": self.redis_url,
                "ACTION_ENDPOINT_URL": f"http://{self.host}:{self.actions_port}/webhook"}

    def assign_env(self) -> None:
        """Gives every node and the widget page the cluster's stores: the staff pages (in the web process) read
        the conversations and concierge requests the action servers write to PostgreSQL."""
        for stack in [*self.nodes, *([self.web] if self.web is not None else [])]:
            stack.env = self.node_env()

    def start(self) -> "Cluster":
        """Starts everything (PostgreSQL, Redis, nginx, action servers, Rasa servers, widget page) and waits."""
        ensure_packages()
        try:
            if self.postgres is not None:
                self.postgres.start()
                self.tracker_store_url = self.postgres.url
            if self.redis is not None:
                self.redis.start()
                self.redis_url = self.redis.url
            self.nginx.start()
            self.assign_env()
            for node in self.nodes:
                node.start_actions()
            # Loading the model is most of a Rasa server's start-up; the servers load side by side.
            with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
                for started in [pool.submit(node.start_rasa, self.model) for node in self.nodes]:
                    started.result()
            if self.web is not None:
                self.web.start_web()
        except BaseException:
            self.stop()
            raise
        return self

    def start_rasa(self, index: int) -> None:
        """(Re)starts the Rasa server of node `index` and waits until it has loaded the model."""
        self.nodes[index].start_rasa(self.model)

    def kill_rasa(self, index: int) -> None:
        """Kills the Rasa server of node `index` at once (SIGKILL), as a crash would."""
        process = self.nodes[index].processes.pop("rasa", None)
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """Stops everything this cluster started, front to back; the data stays in DATA_DIR/cluster."""
        if self.web is not None:
            self.web.stop()
        for node in self.nodes:
            node.stop("rasa")
        for node in self.nodes:
            node.stop()
        for part in (self.nginx, self.redis, self.postgres):
            if part is not None:
                part.stop()

    def processes(self) -> dict[str, subprocess.Popen]:
        found = {}
        for node in self.nodes:
            found.update({f"{name}{node.label}": p for name, p in node.processes.items()})
        if self.web is not None:
            found.update(self.web.processes)
        for name, part in (("nginx", self.nginx), ("redis", self.redis), ("postgres", self.postgres)):
            if part is not None and part.process is not None:
                found[name] = part.process
        return found


# ---------------------------------------------------------------- command


def cmd_cluster(args: argparse.Namespace) -> int:
    data_dir, model = prepare()
    host = settings.get("HOST")
    from bot.staff.auth import ensure_password, password_notice

    new_staff_password = ensure_password(data_dir)  # the staff pages need one here too; printed once, hash kept
    if new_staff_password:
        print(password_notice(new_staff_password, f"http://{host}:{settings.get_int('WEB_PORT')}"), flush=True)
    print(f"Starting PostgreSQL, Redis, nginx, {args.servers} action servers and {args.servers} Rasa servers "
          "(about a minute to load the models) ...", flush=True)
    started = time.monotonic()
    cluster = Cluster(data_dir, model, host, settings.get_int("RASA_PORT"), settings.get_int("ACTIONS_PORT"),
                      settings.get_int("WEB_PORT"), servers=args.servers).start()
    backends = "\n".join(f"  Rasa server {i + 1}   {n.rasa_url}   action server {i + 1}   {n.actions_url}"
                         for i, n in enumerate(cluster.nodes))
    print(f"\nSupplier Navigator cluster is running (ready in {time.monotonic() - started:.0f} s):\n"
          f"  widget page     {cluster.web_url}/\n"
          f"  Rasa REST       {cluster.rasa_url}/webhooks/rest/webhook   (nginx, sticky by X-Sender or client)\n"
          f"  action servers  http://{host}:{cluster.actions_port}/webhook   (nginx, round-robin)\n"
          f"{backends}\n"
          f"  logs            {logs_dir(data_dir)}\n"
          "Press Ctrl-C to stop.", flush=True)

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    reported: set[str] = set()
    try:
        while True:
            processes = cluster.processes()
            for name, process in processes.items():
                if process.poll() is not None and name not in reported:
                    reported.add(name)
                    print(f"The {name} process exited (code {process.returncode}); see {logs_dir(data_dir)}",
                          file=sys.stderr, flush=True)
            rasa_alive = [n for n, p in processes.items() if n.startswith("rasa-") and p.poll() is None]
            if not rasa_alive or any(n in reported for n in ("nginx", "postgres", "redis")):
                print("The cluster cannot serve any more; stopping.", file=sys.stderr)
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        cluster.stop()
        print("Stopped.", flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    cluster = subparsers.add_parser(
        "cluster", help="start PostgreSQL, Redis, several Rasa and action servers behind nginx, and the widget")
    cluster.add_argument("--servers", type=int, default=2, help="Rasa servers and action servers (2)")
    cluster.set_defaults(handler=cmd_cluster)

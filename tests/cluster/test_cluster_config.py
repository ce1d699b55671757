"""Scale-out configuration without starting servers: lock store, shared writes, nginx, deployment files."""
from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest
import yaml

from bot import settings, shared_store
from bot.handoff import handoff_requests, list_handoffs, record_handoff
from bot.lock_store import EnvironmentLockStore, redis_options
from bot.services import service_env

ROOT = settings.PROJECT_ROOT


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield
    shared_store.dispose()


def test_endpoints_load_with_only_the_documented_variables_and_lock_in_memory(tmp_path, monkeypatch):
    from rasa.core.lock_store import InMemoryLockStore, LockStore
    from rasa.core.utils import AvailableEndpoints

    env = service_env(tmp_path, 5055, "127.0.0.1")
    for name in ("ACTION_ENDPOINT_URL", "TRACKER_STORE_URL"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.syspath_prepend(str(ROOT))
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    assert endpoints.tracker_store.url == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert isinstance(LockStore.create(endpoints.lock_store), InMemoryLockStore)


def test_redis_url_selects_rasas_redis_lock_store(monkeypatch):
    from rasa.core.lock_store import RedisLockStore
    from rasa.utils.endpoints import EndpointConfig

    monkeypatch.setenv("REDIS_URL", "redis://:s%40cret@127.0.0.1:6390/2")
    store = EnvironmentLockStore(EndpointConfig(type="bot.lock_store.EnvironmentLockStore", key_prefix="navigator"))
    assert isinstance(store, RedisLockStore)
    kwargs = store.red.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("127.0.0.1", 6390, 2, "s@cret")
    assert store.key_prefix.startswith("navigator:")


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://", "127.0.0.1:6379"])
def test_a_malformed_redis_url_is_refused(url):
    with pytest.raises(ValueError, match="REDIS_URL"):
        redis_options(url)


def test_service_env_overrides_win_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_STORE_URL", "sqlite:////elsewhere.db")
    env = service_env(tmp_path, 5055, "127.0.0.1", {"TRACKER_STORE_URL": "postgresql://u:p@127.0.0.1:1/n",
                                                     "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",
                                                     "REDIS_URL": "redis://127.0.0.1:2/0"})
    assert env["TRACKER_STORE_URL"] == "postgresql://u:p@127.0.0.1:1/n"
    assert env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:9/webhook"
    assert env["REDIS_URL"] == "redis://127.0.0.1:2/0"
    assert service_env(tmp_path, 5055, "127.0.0.1")["TRACKER_STORE_URL"] == "sqlite:////elsewhere.db"


def test_shared_writes_go_to_a_sqlite_file_by_default_and_to_the_tracker_database_in_a_cluster(tmp_path, monkeypatch):
    assert shared_store.database_url("handoffs.db") == f"sqlite:///{tmp_path / 'handoffs.db'}"
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    assert shared_store.database_url("handoffs.db") == f"sqlite:///{tmp_path / 'handoffs.db'}"
    monkeypatch.setenv("TRACKER_STORE_URL", "postgresql://navigator:pw@127.0.0.1:5432/navigator")
    assert shared_store.database_url("handoffs.db") == "postgresql://navigator:pw@127.0.0.1:5432/navigator"
    assert shared_store.database_url("handoffs.db", tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"


def test_handoffs_keep_their_api_on_the_shared_store(tmp_path):
    assert list_handoffs() == [] and not (tmp_path / "handoffs.db").exists()  # reading creates nothing
    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)
    assert [record_handoff(f"topic {i}", at, f"hash{i}") for i in range(3)] == ["H00001", "H00002", "H00003"]
    rows = list_handoffs(tmp_path / "handoffs.db")
    assert [r["topic"] for r in rows] == ["topic 0", "topic 1", "topic 2"]
    assert rows[0] == {"id": 1, "topic": "topic 0", "requested_at": at.isoformat(), "conversation": "hash0",
                       "status": "new"}
    assert handoff_requests.name in shared_store.METADATA.tables


def test_the_nginx_template_renders_to_a_configuration_nginx_accepts(tmp_path):
    from bot.cluster import Nginx, ensure_packages

    ensure_packages()
    nginx = Nginx(tmp_path / "nginx", "127.0.0.1", 1, 2, ["127.0.0.1:10", "127.0.0.1:11"],
                  ["127.0.0.1:20", "127.0.0.1:21"], tmp_path / "nginx.log")
    text = nginx.render()
    assert not re.search(r"\$\{[A-Z_]+\}", text)
    assert "hash $navigator_affinity consistent;" in text
    assert "server 127.0.0.1:10; server 127.0.0.1:11;" in text
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx" / "navigator.conf").write_text(text)
    main = tmp_path / "nginx" / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{ include {tmp_path}/nginx/navigator.conf; }}\n")
    result = subprocess.run(["nginx", "-t", "-e", str(tmp_path / "nginx.log"), "-p", str(tmp_path / "nginx"),
                             "-c", str(main)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_compose_file_wires_the_same_pieces_as_the_cluster_script():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "actions-1", "actions-2", "rasa-1", "rasa-2", "nginx", "widget"} <= set(services)
    for name in ("rasa-1", "rasa-2"):
        env = services[name]["environment"]
        assert env["TRACKER_STORE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["ACTION_ENDPOINT_URL"] == "http://nginx:5055/webhook"
    for name in ("actions-1", "actions-2"):  # handoffs go to the shared database, not a per-container file
        assert services[name]["environment"]["TRACKER_STORE_URL"].startswith("postgresql://")
    nginx_volumes = " ".join(services["nginx"]["volumes"])
    assert "navigator.conf.template" in nginx_volumes
    for dockerfile in {s["build"]["dockerfile"] for s in services.values() if "build" in s}:
        assert (ROOT / "deploy" / dockerfile.split("/")[-1]).exists()


def test_the_clusters_web_process_gets_the_stores_of_the_nodes(tmp_path, monkeypatch):
    """The staff pages run in the web process: they must read the database the action servers write to."""
    from bot import cluster as cluster_module
    from bot.services import Stack

    monkeypatch.setenv("TRACKER_STORE_URL", "postgresql://navigator:pw@127.0.0.1:5999/navigator")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@127.0.0.1:6999/0")
    monkeypatch.setenv("RASA_API_TOKEN", "t")
    started: dict[str, dict[str, str]] = {}

    def recorder(kind):
        def start(self, *args):
            started[f"{kind}{self.label}"] = service_env(self.data_dir, self.actions_port, self.host, self.env)
        return start

    monkeypatch.setattr(cluster_module, "ensure_packages", lambda: None)
    monkeypatch.setattr(cluster_module.Nginx, "start", lambda self: None)
    for kind in ("actions", "rasa", "web"):
        monkeypatch.setattr(Stack, f"start_{kind}", recorder(kind))
    cluster = cluster_module.Cluster(tmp_path, tmp_path / "model.tar.gz", "127.0.0.1", 5005, 5055, 8000)
    monkeypatch.delenv("TRACKER_STORE_URL")  # the processes must get the stores from the cluster, not by chance
    monkeypatch.delenv("REDIS_URL")
    cluster.start()
    assert cluster.postgres is None and cluster.redis is None
    assert set(started) == {"actions-1", "actions-2", "rasa-1", "rasa-2", "web"}
    for name, env in started.items():
        assert env["TRACKER_STORE_URL"] == "postgresql://navigator:pw@127.0.0.1:5999/navigator", name
        assert env["REDIS_URL"] == "redis://:pw@127.0.0.1:6999/0", name


def test_the_compose_widget_reads_the_shared_stores():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text())
    env = compose["services"]["widget"]["environment"]
    assert env["TRACKER_STORE_URL"].startswith("postgresql://")
    assert env["REDIS_URL"].startswith("redis://")
    assert env["PUBLIC_RASA_URL"] == "http://localhost:5005"

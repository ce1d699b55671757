"""The Rasa lock store named in endpoints.yml: Redis when REDIS_URL is set, in memory otherwise.

Rasa's Redis lock store takes host, port, db and password as separate keys, and endpoints.yml cannot give a
variable a default: a `${LOCK_STORE_HOST}` there would break every `rasa` command run without it. So
endpoints.yml names this class, and the one setting REDIS_URL decides. Rasa instantiates the class named in
`lock_store.type` with the endpoint config; `__new__` hands back Rasa's own store instead, so nothing here
changes how locking works.
"""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit


def redis_options(url: str) -> dict[str, Any]:
    """RedisLockStore keyword arguments for a redis://[:password@]host[:port][/db] URL."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"REDIS_URL must look like redis://[:password@]host:port/db, not {url!r}")
    return {
        "host": parts.hostname,
        "port": parts.port or 6379,
        "db": int(parts.path.strip("/") or 0),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


class EnvironmentLockStore:
    """Builds Rasa's RedisLockStore from REDIS_URL, or its InMemoryLockStore when REDIS_URL is empty."""

    def __new__(cls, endpoint_config: Any = None) -> Any:  # returns a rasa LockStore, not an instance of cls
        from rasa.core.lock_store import InMemoryLockStore, RedisLockStore

        url = os.environ.get("REDIS_URL", "").strip()
        if not url:
            return InMemoryLockStore()
        kwargs = dict(getattr(endpoint_config, "kwargs", None) or {})
        return RedisLockStore(**redis_options(url), key_prefix=kwargs.get("key_prefix"))

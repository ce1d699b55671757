"""Download one feed to a temporary file, carefully.

Connect and read timeouts plus an overall deadline, retries with exponential backoff on 5xx and connection
errors, conditional GET (ETag / Last-Modified), a size limit, a content-type check and a Content-Length check
against truncation. The download lands in a temporary file that the caller owns; nothing here touches the
store, so a failed download can never replace good data.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import requests

USER_AGENT = "SupplierNavigator/1.0 (+open-source procurement assistant)"

CSV_TYPES = (
    "text/csv", "application/csv", "text/comma-separated-values", "text/plain", "application/octet-stream",
    "application/vnd.ms-excel", "binary/octet-stream",
)
JSON_TYPES = ("application/json", "text/json", "application/x-ndjson", "text/plain", "application/octet-stream")


class FetchError(Exception):
    """The feed could not be downloaded intact; the message says why (for source_status.last_error)."""


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    total_timeout: float = 600.0  # a server trickling bytes defeats the read timeout; this bounds the whole body
    retries: int = 3
    backoff: float = 2.0  # seconds before the first retry, doubled each time
    max_bytes: int = 300 * 1024 * 1024
    allowed_types: tuple[str, ...] = CSV_TYPES


@dataclass
class FetchResult:
    not_modified: bool
    path: Path | None = None  # temporary file (caller deletes it) when not_modified is False
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""
    size: int = 0
    content_type: str = ""


_RETRY_STATUS = {500, 502, 503, 504}


def fetch(
    url: str,
    *,
    dest_dir: Path,
    etag: str = "",
    last_modified: str = "",
    policy: FetchPolicy = FetchPolicy(),
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """GET `url` into a temporary file in `dest_dir`; a 304 answer gives FetchResult(not_modified=True).

    Raises FetchError when every attempt failed or the body is unacceptable (too big, wrong type, truncated).
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"not an http(s) URL: {url}")
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_session = session is None
    session = session or requests.Session()
    try:
        attempt = 0
        while True:
            try:
                return _attempt(session, url, headers, dest_dir, policy, clock)
            except _Retryable as exc:
                attempt += 1
                if attempt > policy.retries:
                    raise FetchError(f"{exc} (after {attempt} attempts)") from None
                sleep(policy.backoff * (2 ** (attempt - 1)))
    finally:
        if own_session:
            session.close()


class _Retryable(Exception):
    pass


def _attempt(session, url, headers, dest_dir: Path, policy: FetchPolicy, clock) -> FetchResult:
    started = clock()
    try:
        response = session.get(
            url, headers=headers, stream=True, timeout=(policy.connect_timeout, policy.read_timeout)
        )
    except requests.Timeout as exc:
        raise _Retryable(f"timed out: {exc.__class__.__name__}") from None
    except requests.ConnectionError as exc:
        raise _Retryable(f"connection failed: {exc.__class__.__name__}") from None
    except requests.RequestException as exc:
        raise FetchError(f"request failed: {exc}") from None
    with response:
        if response.status_code == 304:
            return FetchResult(
                not_modified=True,
                etag=response.headers.get("ETag", headers.get("If-None-Match", "")),
                last_modified=response.headers.get("Last-Modified", headers.get("If-Modified-Since", "")),
            )
        if response.status_code in _RETRY_STATUS:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type and content_type not in policy.allowed_types:
            raise FetchError(f"unexpected content type {content_type!r}")
        declared = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        if declared and declared.isdigit() and int(declared) > policy.max_bytes:
            raise FetchError(f"feed is {int(declared)} bytes, over the {policy.max_bytes}-byte limit")
        dest_dir.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=dest_dir, prefix=".download-", suffix=".part", delete=False)
        path = Path(handle.name)
        digest = hashlib.sha256()
        size = 0
        raw_size = 0
        ok = False
        try:
            with handle:
                first = True
                for chunk in response.iter_content(chunk_size=256 * 1024):
                    if first and chunk:
                        first = False
                        head = chunk[:512].lstrip().lower()
                        if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
                            raise FetchError("server sent an HTML page instead of the feed")
                    size += len(chunk)
                    if size > policy.max_bytes:
                        raise FetchError(f"feed is over the {policy.max_bytes}-byte limit")
                    if clock() - started > policy.total_timeout:
                        raise _Retryable(f"download took over {policy.total_timeout:.0f} s")
                    digest.update(chunk)
                    handle.write(chunk)
                raw_size = response.raw.tell() if hasattr(response.raw, "tell") else size
            if declared and declared.isdigit():
                received = raw_size if encoded else size
                if received != int(declared):
                    raise _Retryable(f"truncated download: {received} of {declared} bytes")
            if size == 0:
                raise FetchError("empty response body")
            ok = True
        except requests.exceptions.ChunkedEncodingError as exc:
            raise _Retryable(f"truncated download: {exc.__class__.__name__}") from None
        except requests.exceptions.ConnectionError as exc:
            raise _Retryable(f"connection lost during download: {exc.__class__.__name__}") from None
        except requests.Timeout:
            raise _Retryable("timed out during download") from None
        finally:
            if not ok:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return FetchResult(
            not_modified=False,
            path=path,
            etag=response.headers.get("ETag", ""),
            last_modified=response.headers.get("Last-Modified", ""),
            sha256=digest.hexdigest(),
            size=size,
            content_type=content_type,
        )


def resolve_ckan_dump(
    package_show_url: str, resource_name: str, *, policy: FetchPolicy = FetchPolicy(),
    session: requests.Session | None = None,
) -> str:
    """The datastore dump URL of a CKAN package's resource, found by name (Toronto Open Data publishes this way)."""
    own_session = session is None
    session = session or requests.Session()
    try:
        response = session.get(
            package_show_url, headers={"User-Agent": USER_AGENT},
            timeout=(policy.connect_timeout, policy.read_timeout),
        )
        response.raise_for_status()
        package = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise FetchError(f"CKAN package_show failed: {exc.__class__.__name__}: {exc}") from None
    finally:
        if own_session:
            session.close()
    resources = (package.get("result") or {}).get("resources") or [] if isinstance(package, dict) else []
    wanted = resource_name.strip().lower()
    for resource in resources:
        if str(resource.get("name", "")).strip().lower() == wanted and resource.get("datastore_active"):
            parts = urlsplit(package_show_url)
            return f"{parts.scheme}://{parts.netloc}/datastore/dump/{resource['id']}"
    raise FetchError(f"CKAN package has no datastore resource named {resource_name!r}")

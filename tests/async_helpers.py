"""Running a coroutine from a synchronous test."""
from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own.

    The browser tests' session fixture keeps Playwright's sync API open, and that keeps an event loop running
    in the main thread for the rest of the session: `asyncio.run` refuses to start inside it.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

"""Helper processes for CPU-bound work (the scan's workers, the notices' preparers).

They start from a small, clean forkserver process rather than as a copy of the caller (which
may already hold a directory of millions of users), and they end when the process that
started them is gone: a killed ``assess`` or ``notify send`` leaves nothing behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# Pools of this process not yet shut down: the forkserver serves them all (a pool learns of
# its workers' ends through it), so it is stopped only when none is left. Weak: a pool
# dropped without being shut down is not kept alive by this count.
_LIVE: weakref.WeakSet[_Pool] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class _Pool(ProcessPoolExecutor):
    """A process pool that counts itself live from creation until it is shut down."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        try:
            super().shutdown(wait, cancel_futures=cancel_futures)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)


def process_pool(
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    preload: Sequence[str] = (),
) -> ProcessPoolExecutor:
    """A pool whose workers run ``initializer(*initargs)`` first and watch their parent."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver" and preload:
        context.set_forkserver_preload(list(preload))
    with _LIVE_LOCK:
        pool = _Pool(
            workers,
            mp_context=context,
            initializer=_start,
            initargs=(os.getpid(), initializer, initargs),
        )
        _LIVE.add(pool)
    return pool


def stop_forkserver() -> bool:
    """End the forkserver, if one runs and no pool of this process is live: it would
    otherwise idle (tens of MB, with the scan's modules loaded) for the rest of the caller's
    life; the next pool starts another. True if it was asked to stop."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is None:  # private to CPython (3.8 to 3.13 at least): skipped if it goes
        return False
    with _LIVE_LOCK:  # a pool created meanwhile waits, then starts a server of its own
        if _LIVE:
            return False
        stop()
    return True


def _start(parent: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    initializer(*initargs)


def _watch(parent: int) -> None:
    # a worker's own parent is the forkserver, which outlives a killed caller: ask for the
    # caller itself, once a second
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass

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
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


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
    return ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start,
        initargs=(os.getpid(), initializer, initargs),
    )


def stop_forkserver() -> None:
    """End the forkserver, if one runs: it would otherwise idle (tens of MB, with the scan's
    modules loaded) for the rest of the caller's life. Only once every pool it served is shut
    down — a pool learns of its workers' ends through it; the next pool starts another."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:  # private to CPython (3.8 to 3.13 at least): skipped if it goes
        stop()


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

"""Pause Python's cyclic garbage collector while a spec is parsed and validated.

Parsing a big spec allocates millions of objects that all stay alive (ranges,
settings, agents); the cyclic collector runs a full collection each time the heap
has grown by a quarter, so on a 50,000-agent spec it spent more time walking the
new objects than the parser spent making them. A parse builds acyclic data (it
frees nothing by cycles), so nothing is lost by pausing the collector: garbage
cycles made meanwhile are collected once it runs again, and the objects the parse
made are walked once by the next young collections instead of again and again.

The pause is shared: the collector is off while any thread is inside
`cyclic_gc_paused` and comes back on when the last one leaves, unless it was off
before the first one came in.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (reference counting still frees memory)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()

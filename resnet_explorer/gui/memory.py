"""Keeping Python's garbage collector from freezing the window.

A full (generation 2) collection walks every object the process holds; with torch, Qt and pyqtgraph
loaded that is a few hundred thousand objects and took 120-150 ms here, once every half minute or so
while the Train tab's curves grew: the longest stall the window had while training. Objects that exist
once start-up is done (modules, widgets, the model) mostly live as long as the app, so they are moved
to the collector's permanent generation, which later collections skip: once start-up is done, and
again when training starts. Training's end thaws everything (a frozen object that became cyclic garbage
is only freed then); that full collection comes when a pause no longer matters.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_long_lived() -> None:
    """Exempt every object alive now from later collections (cheap: no object is visited).

    Call it when start-up is done and again when a long job begins: anything created since the last
    call is frozen too. No collection runs first: that would be the very stall this avoids (~100 ms);
    the price is that garbage cycles alive at this moment wait for :func:`thaw_long_lived`.
    """
    gc.freeze()
    log.debug("gc: %d objects frozen", gc.get_freeze_count())


def thaw_long_lived() -> None:
    """Undo :func:`freeze_long_lived` (after training): the next full collection sees everything again."""
    gc.unfreeze()

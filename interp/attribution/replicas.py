"""Private copies of a model, so attribution can register hooks without touching the shared one.

Captum attaches hooks to the modules it is given: Guided Backprop to every ``nn.ReLU``, Grad-CAM and the
layer methods to a hook point. On the model that every browser session shares, one session's hooks would
change another session's gradients (or capture its activations). So every attribution runs on a replica
borrowed from a small pool: a deep copy (about 28 MB, a few milliseconds) that only one caller uses at a time.

Inside a queued job (:mod:`interp.jobs`) the borrowed replica checks the job's cancel token before every
forward pass, so a cancelled attribution stops between Captum's batches (it raises :class:`interp.jobs.Cancelled`).
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn
from torch.utils.hooks import RemovableHandle

from interp import jobs

MAX_IDLE_REPLICAS = 4  # kept per model for reuse; more can be out at once, the extras are dropped on return

_lock = threading.Lock()
_idle: weakref.WeakKeyDictionary[nn.Module, list[nn.Module]] = weakref.WeakKeyDictionary()


def fresh_replica(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with frozen parameters (gradients flow to the input only: faster), marked as
    private: whoever made it is its only user, so :func:`borrowed` lends it as it is."""
    replica = copy.deepcopy(model).eval().requires_grad_(False)
    replica._private_replica = True
    return replica


@contextmanager
def borrowed(model: nn.Module) -> Iterator[nn.Module]:
    """A replica of ``model`` for the duration of the block, for this caller alone (``model`` itself if it is
    already a private copy, such as the sanity check's randomised ones).

    Hooks: Captum removes the hooks it registers when a method returns, even when it raises (its own
    ``try``/``finally``); the cancel check registered here is removed by its handle. A pooled replica that a
    method left by raising is dropped rather than lent again: whatever the failing method hooked dies with it,
    and the next caller gets a fresh copy (a few milliseconds), so no stray hook ever changes another map."""
    if getattr(model, "_private_replica", False):
        handle = _watch_cancel(model)
        try:
            yield model
        finally:
            if handle is not None:
                handle.remove()
        return
    with _lock:
        pool = _idle.get(model)
        replica = pool.pop() if pool else None
    if replica is None:
        replica = fresh_replica(model)
    handle = _watch_cancel(replica)
    try:
        yield replica
    except BaseException:
        replica = None  # not lent again (see above)
        raise
    finally:
        if handle is not None:
            handle.remove()
        if replica is not None:
            with _lock:
                pool = _idle.setdefault(model, [])
                if len(pool) < MAX_IDLE_REPLICAS:
                    pool.append(replica)


def _watch_cancel(replica: nn.Module) -> RemovableHandle | None:
    """Inside a queued job: check its cancel token before every forward pass of the replica (Captum's batch
    loops run one pass per batch). Returns the hook's handle (removed when the replica is returned), or None
    outside a job."""
    if jobs.current_token() is None:
        return None
    return replica.register_forward_pre_hook(lambda module, args: jobs.checkpoint())


def counterpart(module: nn.Module, model: nn.Module, replica: nn.Module) -> nn.Module | None:
    """``replica``'s own copy of ``module``, a submodule of ``model`` found by its name there (``model`` itself
    when ``replica`` is ``model``); None when ``module`` is not part of ``model``. A layer given as a module of
    the shared model must be hooked here instead, or the hook would land on the model everybody shares."""
    for name, candidate in model.named_modules():
        if candidate is module:
            return replica.get_submodule(name)
    return None

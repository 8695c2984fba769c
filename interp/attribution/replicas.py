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
    already a private copy, such as the sanity check's randomised ones)."""
    if getattr(model, "_private_replica", False):
        try:
            _watch_cancel(model)
            yield model
        finally:
            _remove_hooks(model)
        return
    with _lock:
        pool = _idle.get(model)
        replica = pool.pop() if pool else None
    if replica is None:
        replica = fresh_replica(model)
    try:
        _watch_cancel(replica)
        yield replica
    finally:
        _remove_hooks(replica)  # Captum removes its own; this guards against a method that raised midway
        with _lock:
            pool = _idle.setdefault(model, [])
            if len(pool) < MAX_IDLE_REPLICAS:
                pool.append(replica)


def _watch_cancel(replica: nn.Module) -> None:
    """Inside a queued job: check its cancel token before every forward pass of the replica (Captum's batch
    loops run one pass per batch), removed with every other hook when the replica is returned."""
    if jobs.current_token() is not None:
        replica.register_forward_pre_hook(lambda module, args: jobs.checkpoint())


def counterpart(module: nn.Module, model: nn.Module, replica: nn.Module) -> nn.Module | None:
    """``replica``'s own copy of ``module``, a submodule of ``model`` found by its name there (``model`` itself
    when ``replica`` is ``model``); None when ``module`` is not part of ``model``. A layer given as a module of
    the shared model must be hooked here instead, or the hook would land on the model everybody shares."""
    for name, candidate in model.named_modules():
        if candidate is module:
            return replica.get_submodule(name)
    return None


def _remove_hooks(module: nn.Module) -> None:
    for m in module.modules():
        for hooks in (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks, m._backward_pre_hooks):
            hooks.clear()
        m._is_full_backward_hook = None

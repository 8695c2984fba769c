"""The one error type of feature visualization's settings, as the rest of interp raises them."""

from __future__ import annotations

from interp.errors import InterpError


class RenderError(InterpError, ValueError):
    """Bad render settings: a size, step count or batch out of range, an unknown parameterisation, transform
    chain or objective kind, a direction of the wrong length. Also a ``ValueError``, as these were before."""

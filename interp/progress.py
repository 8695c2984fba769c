"""The one progress callback type, ``progress(done, total_or_None)``, for downloads, prefetch and long builds.

``done`` counts what is finished so far (bytes, files, units ...); ``total`` is how many there will be, or
``None`` when that is not known in advance. The last call reports the final count.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int | None], None]

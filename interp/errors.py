"""Every error a person can cause (or fix) has one type here, with a message written for them.

The app and the CLI catch ``InterpError`` and show ``str(error)``; anything else is a bug.
"""


class InterpError(Exception):
    """Base class: the message is meant to be read by a person, not a developer."""


class ImageError(InterpError, ValueError):
    """An image could not be read: corrupt, truncated, empty, too large or not an image at all."""


class UnitError(InterpError, ValueError):
    """A layer or unit name such as ``mixed3b:379`` is unknown or out of range."""


class WeightsUnavailable(InterpError, FileNotFoundError):
    """The model weights (or labels) are not on disk and cannot be downloaded."""


class DownloadError(InterpError, OSError):
    """A download failed or delivered something other than what was expected."""

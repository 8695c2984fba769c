"""Every error a person can cause (or fix) has one type here, with a message written for them.

The app and the CLI catch ``InterpError`` and show ``str(error)``; anything else is a bug.
"""


class InterpError(Exception):
    """Base class: the message is meant to be read by a person, not a developer."""


class ImageError(InterpError, ValueError):
    """An image could not be read: corrupt, truncated, empty, too large or not an image at all. Uploads raise
    one of the four kinds below; bad arguments to ``interp.dataset.intake.load_image`` raise this class itself."""


class ImageSourceError(ImageError):
    """There is nothing to read as an image: no such file, a folder, an empty file, a text-mode file object."""


class ImageTooLarge(ImageError):
    """Over a limit checked before decoding: bytes, pixels, or the memory the decoder would need."""


class UnsupportedImage(ImageError):
    """Not an image, or an image in a format or pixel mode the app does not read (SVG, HEIC, PSD, ...)."""


class CorruptImage(ImageError):
    """A known image format whose data is truncated or corrupt."""


class UnitError(InterpError, ValueError):
    """A layer or unit name such as ``mixed3b:379`` is unknown or out of range."""


class WeightsUnavailable(InterpError, FileNotFoundError):
    """The model weights (or labels) are not on disk and cannot be downloaded."""


class DownloadError(InterpError, OSError):
    """A download failed or delivered something other than what was expected."""

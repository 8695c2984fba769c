"""Feature visualization: parameterisations, transforms, objectives and one render loop.

from interp.featvis import render, objectives as obj
result = render(model, obj.unit("mixed4c:447"), size=128, steps=512)
# diversity: the higher its weight, the more the four images differ
    result = render(model, obj.channel("mixed4a", 97) + 1e2 * obj.diversity("mixed4a"), batch=4)
"""

from interp.featvis import objectives
from interp.featvis.errors import RenderError
from interp.featvis.objectives import Objective
from interp.featvis.param import CPPNImage, FourierImage, PixelImage
from interp.featvis.render import RenderResult, render
from interp.featvis.transforms import Jitter, Pad, Rotate, Scale, standard_transforms

__all__ = [
    "objectives",
    "Objective",
    "render",
    "RenderResult",
    "RenderError",
    "FourierImage",
    "PixelImage",
    "CPPNImage",
    "Pad",
    "Jitter",
    "Scale",
    "Rotate",
    "standard_transforms",
]

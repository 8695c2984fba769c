from ui.microscope import render_microscope
from ui.router import page

page(render_microscope)

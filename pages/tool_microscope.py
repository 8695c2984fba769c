from ui.microscope import render_microscope

render_microscope()

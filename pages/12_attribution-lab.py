from ui.attribution import render_attribution_lab
from ui.router import page

page(render_attribution_lab)

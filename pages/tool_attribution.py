from ui.attribution import render_attribution_lab

render_attribution_lab()

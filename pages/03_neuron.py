from ui.frame import render_chapter

render_chapter("03_neuron")

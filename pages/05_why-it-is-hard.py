from ui.frame import render_chapter
from ui.router import page

page(render_chapter, "05_hard")

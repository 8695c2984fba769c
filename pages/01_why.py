from ui.frame import render_chapter

render_chapter("01_why")

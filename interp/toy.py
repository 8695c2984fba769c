"""The story's toy model of superposition, its size: how many features squeeze through how many hidden neurons
(chapter 5 trains it with :func:`interp.superposition.train`). No PyTorch here, so the narration's figures
(``ui.facts``) and the page's defaults can read it before PyTorch loads."""

TOY_FEATURES = 5  # features in the story's toy (the page's default; its slider offers others) ...
TOY_HIDDEN = 2  # ... squeezed through this many hidden neurons, as in the paper's first figure

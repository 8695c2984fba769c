"""The tour's chapters and tool pages: the one list the router and the "plan of the tour" both read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Stop:
    title: str
    icon: str
    blurb: str  # Markdown; may name a role, {role:polysemantic:unit}, which the page expands (ui.roles)
    page: str | None  # script under pages/, or None while the chapter is still being built

    @property
    def url_path(self) -> str | None:
        """The page's URL, which Streamlit takes from the file name: ``pages/03_what-a-neuron-wants.py`` ->
        ``what-a-neuron-wants`` (see ui/router.py for why the file is named after its URL)."""
        return re.sub(r"^[0-9]*[_ -]*", "", PurePath(self.page).stem) if self.page else None


TOUR: tuple[Stop, ...] = (
    Stop("Why look inside?", ":material/visibility:", "A network that works, and why that is not enough.", "pages/01_why-look-inside.py"),
    Stop("How a CNN sees", ":material/layers:", "Layers, channels, convolutions and activations on your picture.", "pages/02_how-a-cnn-sees.py"),
    Stop("What does a neuron want?", ":material/psychology:", "Feature visualization by optimisation versus dataset examples.", "pages/03_what-a-neuron-wants.py"),
    Stop("Circuits", ":material/hub:", "Curve detectors from earlier curves; a car from windows, body and wheels; dog heads in any pose.", "pages/04_circuits.py"),
    Stop("Why it is hard", ":material/blur_on:", "Polysemantic neurons (the articles' 4e:55; in these weights {role:polysemantic:link}), how common they are, and superposition in a toy you train.", "pages/05_why-it-is-hard.py"),
    Stop("What came next", ":material/auto_awesome:", "Sparse autoencoders: finding features the neurons smear together.", "pages/06_what-came-next.py"),
)

TOOLS: tuple[Stop, ...] = (
    Stop("Microscope", ":material/biotech:", "Every unit of every layer, with a page per unit.", "pages/11_microscope.py"),
    Stop("Attribution lab", ":material/troubleshoot:", "Which pixels and which channels made the model say what it said; "
         "seven methods side by side, and a sanity check.", "pages/12_attribution-lab.py"),
)

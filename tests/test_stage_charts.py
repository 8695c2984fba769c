"""Charts on a projector: ``ui.visuals.common.chart`` gives every figure type that reads from the back of the room
when a room is watching (presenter mode, the stage view), and leaves a reader's chart as its author drew it."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from ui.visuals import common


class _Place:
    def __init__(self) -> None:
        self.drawn = []

    def plotly_chart(self, fig, key, config):
        self.drawn.append((fig, key, config))


def _figure() -> go.Figure:
    fig = go.Figure(go.Bar(x=[1, 2], y=["a", "b"], orientation="h"))
    fig.add_trace(go.Heatmap(z=[[1, -1]], colorbar=dict(title="weight")))
    fig.add_annotation(text="a note", x=1, y=0, font=dict(size=11))
    fig.update_layout(xaxis=dict(title="probability (%)", tickfont=dict(size=20)))  # the author's own, larger
    return fig


@pytest.mark.parametrize("talking", [True, False])
def test_on_stage_every_label_is_at_least_the_stage_font_and_a_readers_chart_is_untouched(monkeypatch, talking):
    monkeypatch.setattr(common, "talking", lambda: talking)
    place = _Place()
    common.chart(_figure(), "k", place)
    fig, key, config = place.drawn[0]
    assert key == "k" and config["displayModeBar"] is False
    assert fig.layout.xaxis.tickfont.size == 20  # never made smaller
    if talking:
        assert fig.layout.font.size == common.STAGE_FONT
        assert fig.layout.yaxis.tickfont.size == common.STAGE_FONT
        assert fig.layout.xaxis.title.font.size == common.STAGE_FONT
        assert fig.layout.legend.font.size == common.STAGE_FONT
        assert fig.data[1].colorbar.tickfont.size == common.STAGE_FONT
        assert fig.layout.annotations[0].font.size == common.STAGE_FONT
    else:
        assert fig.layout.font.size is None and fig.layout.yaxis.tickfont.size is None
        assert fig.data[1].colorbar.tickfont.size is None and fig.layout.annotations[0].font.size == 11

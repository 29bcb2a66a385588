"""The digest's 12-week trend chart: a small PNG drawn with matplotlib's Agg backend.

``Figure`` + ``FigureCanvasAgg`` directly (never pyplot): no global state, so the jobs' threads
can draw at the same time, and no display is ever needed.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CANCELLATIONS_COLOUR = "#b5651d"
WINBACKS_COLOUR = "#35577d"


def trend_png(labels: list[str], cancellations: list[int], winbacks: list[int],
              legend: tuple[str, str]) -> bytes:
    """Bars of cancellations and a line of win-backs per week; about 560×200 px, a few kB."""
    figure = Figure(figsize=(5.6, 2.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(labels))
    axes.bar(positions, cancellations, color=CANCELLATIONS_COLOUR, width=0.6, label=legend[0])
    axes.plot(positions, winbacks, color=WINBACKS_COLOUR, marker="o", markersize=3, linewidth=1.5, label=legend[1])
    axes.set_xticks(list(positions), labels, fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    axes.set_ylim(bottom=0, top=max([*cancellations, *winbacks, 1]) * 1.15)
    axes.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(fontsize=7, frameon=False, loc="upper left")
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    # No timestamp or software tag: the same data gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()

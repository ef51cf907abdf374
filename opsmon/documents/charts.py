"""Charts for documents, drawn with matplotlib (Agg: no display, no browser, no network) as PNG bytes.

Every chart takes values already on the display scale (percentages × 100) and the
texts to print beside them (formatted by :mod:`opsmon.documents.prose`), so a chart
never formats a number differently from the text around it. Chinese labels are drawn
with the CJK face :mod:`opsmon.documents.fonts` finds.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot could be imported anywhere: documents render on servers

from matplotlib import patheffects  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import Colormap, ListedColormap, Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from opsmon.documents import fonts  # noqa: E402

DPI = 200
INK = "#1f2d3d"
ACCENT = "#1f4e79"
LIGHT = "#9dc3e6"
NO_DATA = "#e6e6e6"
CMAP = "Blues"


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib settings for one chart: the CJK font, a true minus sign, quiet frames."""
    family = fonts.matplotlib_family()
    with rc_context({"font.family": [family], "font.sans-serif": [family], "axes.unicode_minus": False,
                     "axes.spines.top": False, "axes.spines.right": False, "font.size": 9,
                     "axes.edgecolor": "#888888", "axes.titlesize": 11, "svg.fonttype": "none"}):
        yield


def _png(fig: Figure) -> bytes:
    """*fig* as PNG bytes (no pyplot: nothing global is left behind)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # No timestamp or software tag in the file: the same chart gives the same bytes.
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def bar_ranking(labels: Sequence[str], values: Sequence[float | None], texts: Sequence[str], *, title: str,
                unit: str = "", highlight: str | None = None) -> bytes:
    """A horizontal bar ranking: *labels* top to bottom as given, each bar annotated with its text.

    *values* are on the display scale (a bar without a value is left empty, its text
    says ``—``); *unit* labels the value axis; the bar of *highlight* (a label) is
    drawn in the accent colour.
    """
    n = len(labels)
    with _style():
        fig = Figure(figsize=(6.4, max(2.2, 0.32 * n + 0.9)))
        ax = fig.add_subplot()
        ys = list(range(n))
        heights = [0.0 if v is None or math.isnan(float(v)) else float(v) for v in values]
        colors = [ACCENT if label == highlight else LIGHT for label in labels]
        ax.barh(ys, heights, color=colors, height=0.62)
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()  # the first label on top
        finite = _finite(values)
        span = (max(finite + [0.0]) - min(finite + [0.0])) or 1.0
        for y, v, text in zip(ys, heights, texts, strict=True):
            ax.text(v + (0.01 * span if v >= 0 else -0.01 * span), y, text, va="center",
                    ha="left" if v >= 0 else "right", fontsize=8, color=INK)
        low, high = min(finite + [0.0]), max(finite + [0.0])
        ax.set_xlim(low - (0.18 * span if low < 0 else 0), high + 0.18 * span)
        ax.axvline(0, color="#888888", linewidth=0.6)
        ax.set_xlabel(unit)
        ax.set_title(title, loc="left")
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
        return _png(fig)


def line_yoy(this_year: Sequence[float | None], last_year: Sequence[float | None], *, years: tuple[int, int],
             title: str, unit: str = "") -> bytes:
    """Monthly values of this year against last year (months 1–12 on the x axis).

    *this_year* and *last_year* hold up to 12 values on the display scale, January
    first (None/NaN: no value that month); *years* = (this year, last year) for the legend.
    """
    with _style():
        fig = Figure(figsize=(6.4, 3.0))
        ax = fig.add_subplot()
        for series, year, color, style in ((last_year, years[1], "#a6a6a6", "--"), (this_year, years[0], ACCENT, "-")):
            ys = [math.nan if v is None else float(v) for v in series][:12]
            ax.plot(range(1, len(ys) + 1), ys, style, color=color, marker="o", markersize=3.5, linewidth=1.6,
                    label=f"{year}年")
        ax.set_xticks(range(1, 13), [f"{m}月" for m in range(1, 13)])
        ax.set_xlim(0.5, 12.5)
        ax.set_ylabel(unit)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color="#dddddd", linewidth=0.5)
        ax.legend(frameon=False, loc="best")
        return _png(fig)


def _rings(geometry: Mapping[str, Any]) -> list[list[list[list[float]]]]:
    """A Polygon's or MultiPolygon's polygons, each a list of rings (exterior first)."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"not a polygon geometry: {geometry['type']}")


def _path(polygons: list[list[list[list[float]]]]) -> MplPath:
    """One compound path of every ring: holes (wound the other way) stay unfilled."""
    vertices: list[list[float]] = []
    codes: list[int] = []
    for polygon in polygons:
        for ring in polygon:
            vertices += [list(p[:2]) for p in ring] + [list(ring[0][:2])]
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 1) + [MplPath.CLOSEPOLY]
    return MplPath(vertices, codes)


def _label_point(polygons: list[list[list[list[float]]]]) -> tuple[float, float]:
    """The centroid of the largest exterior ring (shoelace formula): where the name goes."""
    best, best_area = (0.0, 0.0), -1.0
    for polygon in polygons:
        ring = polygon[0]
        area = cx = cy = 0.0
        for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:] + ring[:1], strict=True):
            cross = x0 * y1 - x1 * y0
            area += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if area and abs(area) > best_area:
            best_area, best = abs(area), (cx / (3 * area), cy / (3 * area))
    return best


def choropleth(features: Sequence[Mapping[str, Any]], values: Mapping[str, float | None],
               texts: Mapping[str, str], *, title: str, legend: str = "") -> bytes:
    """A map of *features* (GeoJSON Features; ``id`` = adcode, ``properties.name``), drawn in order.

    Each region is filled by its value in *values* (display scale; missing: grey) and
    labelled with its name and its text from *texts*. Draw enclosing regions first: a
    county-level city drawn after its prefecture shows on top of it.
    """
    finite = _finite([values.get(str(f["id"])) for f in features])
    norm = Normalize(vmin=min(finite), vmax=max(finite)) if finite else Normalize(0, 1)
    if finite and norm.vmin == norm.vmax:
        norm = Normalize(vmin=norm.vmin - 1, vmax=norm.vmax + 1)
    with _style():
        fig = Figure(figsize=(6.4, 5.0))
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps[CMAP]
        paths = [_path(_rings(f["geometry"])) for f in features]
        extents = [p.get_extents() for p in paths]
        total = max(e.x1 for e in extents) - min(e.x0 for e in extents) if extents else 1.0
        middle = (max(e.x1 for e in extents) + min(e.x0 for e in extents)) / 2 if extents else 0.0
        lats: list[float] = []
        halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
        for feature, path, extent in zip(features, paths, extents, strict=True):
            code = str(feature["id"])
            v = values.get(code)
            color = NO_DATA if v is None or math.isnan(float(v)) else cmap(0.15 + 0.75 * norm(float(v)))
            ax.add_patch(PathPatch(path, facecolor=color, edgecolor="white", linewidth=0.8))
            x, y = _label_point(_rings(feature["geometry"]))
            lats.append(y)
            label = f"{feature['properties']['name']}\n{texts.get(code, '—')}"
            if extent.width < 0.09 * total:  # too small to hold its label: put it beside, with a leader
                ax.annotate(label, (x, y), xytext=(x + (-0.16 if x < middle else 0.16) * total, y - 0.03 * total),
                            ha="center", va="center", fontsize=7, color=INK, path_effects=halo,
                            arrowprops={"arrowstyle": "-", "color": "#666666", "linewidth": 0.6})
            else:
                ax.text(x, y, label, ha="center", va="center", fontsize=7, color=INK, path_effects=halo)
        ax.autoscale_view()
        # Degrees of longitude shrink with latitude: keep the province's shape.
        ax.set_aspect(1 / math.cos(math.radians(sum(lats) / len(lats))) if lats else 1)
        ax.set_axis_off()
        ax.set_title(title, loc="left")
        if finite:
            mappable = ScalarMappable(norm=norm, cmap=_truncated(cmap))
            bar = fig.colorbar(mappable, ax=ax, shrink=0.6, pad=0.02)
            bar.set_label(legend)
            bar.outline.set_visible(False)
        return _png(fig)


def _truncated(cmap: Colormap) -> Colormap:
    """The part of *cmap* the map uses (0.15–0.9: the palest blue is too close to white)."""
    return ListedColormap([cmap(0.15 + 0.75 * i / 255) for i in range(256)])

"""Figures shared by pages: the offline choropleth map, ranked bars, the shared look."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from opsmon.dashboard.format import d3_format

# plotly.js fetches its base topojson even for geojson maps; we serve it ourselves
# (assets/topojson) so the map works on an intranet with no internet access.
GRAPH_CONFIG = {"topojsonURL": "/assets/topojson/", "displaylogo": False, "locale": "zh-CN"}


def empty_figure(message: str) -> go.Figure:
    """A blank figure carrying *message*, instead of empty axes."""
    fig = go.Figure()
    fig.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, height=460,
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        annotations=[{"text": message, "showarrow": False, "font": {"size": 16, "color": "#6c757d"},
                      "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    )
    return fig


# ----------------------------------------------------------------------------------------- shared look
PALETTE = ["#1f4e79", "#c0392b", "#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#16a085", "#7f8c8d"]
FONT = {"family": '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", system-ui, sans-serif', "size": 13}


def style_figure(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, font=FONT, paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, hoverlabel={"font": FONT},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "font": {"size": 12}},
                      colorway=PALETTE, modebar={"bgcolor": "rgba(0,0,0,0)", "color": "#adb5bd",
                                                 "activecolor": "#1f4e79"})
    fig.update_xaxes(gridcolor="#e9ecef", zeroline=False, automargin=True)
    fig.update_yaxes(gridcolor="#e9ecef", zerolinecolor="#adb5bd", automargin=True)
    return fig


def colorscale(ind, values: pd.Series) -> dict:
    """Colours that read the right way: green is good for ↑/↓ indicators; diverging around 0 when signed."""
    low, high = values.min(), values.max()
    if ind.direction == "up":
        return {"colorscale": "RdYlGn"}
    if ind.direction == "down":
        return {"colorscale": "RdYlGn", "reversescale": True}
    if pd.notna(low) and pd.notna(high) and low < 0 < high:
        return {"colorscale": "RdBu", "zmid": 0}
    return {"colorscale": "Blues"}


def flag(value) -> bool:
    """A frame's boolean cell as a bool: None, NaN and NA are false."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and value != value:
        return False
    return bool(value)


def approx_lines(frame: pd.DataFrame, note: str) -> list[str]:
    """Per row, '<br>' + *note* where the row's ``approx`` is true (a 近似 value), else '' (hover text)."""
    flags = frame["approx"] if "approx" in frame and note else pd.Series(False, index=frame.index)
    return [f"<br>{note}" if flag(f) else "" for f in flags]


def region_map(frame: pd.DataFrame, geojson: dict | str, ind, *, title: str, label: str = "label",
               highlight: str | None = None, coverage_text: str = "", height: int = 480,
               hover: str = "extra", scale: dict | None = None, approx_note: str = "") -> go.Figure:
    """A choropleth of one indicator by region (``code``, ``value``, *label*; *hover* a column of extra text).

    *geojson*: the outlines, best as a URL (:func:`opsmon.dashboard.outlines.outline`) — plotly.js
    fetches it once, where a dict is copied into every trace and sent with every figure.

    Without a *hover* column, "coverage_text reporting/expected" is shown. Regions
    without a value are drawn grey; *highlight* (an adcode) gets a thick outline. A region whose
    ``approx`` is true (近似) has *approx_note* added to its hover text.
    """
    fmt = d3_format(ind)
    has = frame[frame["value"].notna()]
    missing = frame[frame["value"].isna()]
    fig = go.Figure()
    if len(has):
        cover = (has[hover].astype(str) if hover in has else
                 coverage_text + " " + has["reporting"].astype(str) + "/" + has["expected"].astype(str)).tolist()
        cover = [text + extra for text, extra in zip(cover, approx_lines(has, approx_note))]
        fig.add_trace(go.Choropleth(
            geojson=geojson, featureidkey="properties.adcode", locations=has["code"], z=has["value"],
            text=has[label], customdata=cover, marker_line_color="white", marker_line_width=1,
            hovertemplate=f"<b>%{{text}}</b><br>{title}: %{{z:{fmt}}}<br>%{{customdata}}<extra></extra>",
            colorbar={"title": {"text": title, "side": "right"}, "thickness": 12, "tickformat": fmt,
                      "len": 0.8},
            **(scale or colorscale(ind, has["value"])),
        ))
    if len(missing):
        fig.add_trace(go.Choropleth(
            geojson=geojson, featureidkey="properties.adcode", locations=missing["code"],
            z=[0] * len(missing), text=missing[label], colorscale=[[0, "#dee2e6"], [1, "#dee2e6"]],
            showscale=False, marker_line_color="white", marker_line_width=1,
            hovertemplate="%{text}<br>—<extra></extra>"))
    if highlight is not None and highlight in set(frame["code"]):
        fig.add_trace(go.Choropleth(
            geojson=geojson, featureidkey="properties.adcode", locations=[highlight], z=[0],
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
            marker_line_color="#c0392b", marker_line_width=3, hoverinfo="skip"))
    fig.update_geos(fitbounds="locations", visible=False)
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=height, font=FONT,
                      paper_bgcolor="rgba(0,0,0,0)", geo_bgcolor="rgba(0,0,0,0)", clickmode="event",
                      modebar={"bgcolor": "rgba(0,0,0,0)", "color": "#adb5bd", "activecolor": "#1f4e79"})
    return fig


def bar_ranking(frame: pd.DataFrame, ind, *, title: str, peer: float | None = None, peer_label: str = "",
                approx_note: str = "") -> go.Figure:
    """Horizontal bars of ``value`` by ``name``, best at the top, with an optional peer-median line;
    a bar whose ``approx`` is true (近似) has *approx_note* in its hover text."""
    fmt = d3_format(ind)
    data = frame[frame["value"].notna()]
    fig = go.Figure(go.Bar(
        x=data["value"], y=data["name"], orientation="h", marker_color=["#1f4e79"] * len(data),
        customdata=approx_lines(data, approx_note),
        hovertemplate=f"%{{y}}<br>{title}: %{{x:{fmt}}}%{{customdata}}<extra></extra>",
        texttemplate=f"%{{x:{fmt}}}", textposition="outside", cliponaxis=False,
    ))
    if peer is not None and pd.notna(peer):
        fig.add_vline(x=peer, line_dash="dash", line_color="#e67e22",
                      annotation_text=peer_label, annotation_position="bottom right",
                      annotation_font_color="#e67e22")
    style_figure(fig, max(300, min(2400, 22 * len(data) + 80)))
    fig.update_yaxes(autorange="reversed", tickfont={"size": 12})
    fig.update_xaxes(tickformat=fmt)
    fig.update_layout(margin={"l": 10, "r": 40, "t": 30, "b": 10}, showlegend=False, bargap=0.25)
    return fig


def month_axis(fig: go.Figure, **kwargs) -> go.Figure:
    """Date x-axes for monthly values ('YYYY-MM'): spaced by time, labelled by month."""
    fig.update_xaxes(type="date", tickformat="%Y-%m", hoverformat="%Y-%m", **kwargs)
    return fig

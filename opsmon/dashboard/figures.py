"""Figures shared by pages: the offline choropleth map."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# plotly.js fetches its base topojson even for geojson maps; we serve it ourselves
# (assets/topojson) so the map works on an intranet with no internet access.
GRAPH_CONFIG = {"topojsonURL": "/assets/topojson/", "displaylogo": False, "locale": "zh-CN"}


def choropleth(frame: pd.DataFrame, geojson: dict, value: str, *, hover_name: str = "name",
               colorscale: str = "Blues", value_format: str = ",.0f", title: str = "") -> go.Figure:
    """A choropleth of *frame* (one row per region, ``code`` = adcode) on *geojson*.

    Regions are drawn in frame order, so a county-level unit listed after the
    prefectures sits on top of the prefecture that surrounds it.
    """
    fig = go.Figure(go.Choropleth(
        geojson=geojson,
        featureidkey="properties.adcode",
        locations=frame["code"],
        z=frame[value],
        text=frame[hover_name],
        colorscale=colorscale,
        marker_line_color="white",
        marker_line_width=1,
        hovertemplate=f"%{{text}}<br>{title}: %{{z:{value_format}}}<extra></extra>",
        colorbar={"title": {"text": title, "side": "right"}, "thickness": 12},
    ))
    fig.update_geos(fitbounds="locations", visible=False)
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=460,
                      paper_bgcolor="rgba(0,0,0,0)", geo_bgcolor="rgba(0,0,0,0)")
    return fig


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

"""Region outlines (GeoJSON) for the maps: what a province's map and a prefecture's map draw.

Shared by the overview's drill-down map, the risk map and the evaluation map; read from the
boundary files shipped in ``opsmon/assets/geo`` (:mod:`opsmon.geo`) and kept in memory.

**Sent by URL, not inside the figure.** A map's figure names its outlines by URL
(:func:`outline`: ``/outlines/<kind>/<adcode>.geojson?v=<digest>``) and plotly.js fetches them
(a choropleth's ``geojson`` may be a URL); :func:`install` serves them. Inside the figure, the
national provinces' 243 KB were copied and validated by plotly for every trace (≈ 120 ms each,
two or three traces a map) and sent with every map callback; by URL the browser fetches each
outline once and keeps it (the digest in the URL changes when the boundary files do). The route
sits behind the sign-in gate like every route; outlines are public boundaries, so any signed-in
user may fetch any of them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import lru_cache

import flask

from opsmon import geo

ROUTE = "/outlines/<kind>/<code>.geojson"
_ADCODE = re.compile(r"\d{6}")


@lru_cache(maxsize=64)
def province_geojson(province: str) -> dict:
    """Prefectures plus the county-level units *province* administers directly.

    The direct units come last so they are drawn over the prefecture around them. A
    national instance without *province*'s own files draws its prefectures from the
    national layer (the direct units then have no outline).
    """
    if not geo.has_layer(province, "prefectures"):
        regions = geo.load_regions(geo.NATION)
        inside = set(regions.loc[regions["parent_adcode"] == province, "adcode"])
        features = [f for f in geo.load_geojson(geo.NATION, "prefectures")["features"] if f["id"] in inside]
        return {"type": "FeatureCollection", "features": features}
    regions = geo.load_regions(province)
    direct = set(regions.loc[(regions["level"] == "county") & (regions["parent_adcode"] == province), "adcode"])
    counties = geo.load_geojson(province, "counties")["features"]
    features = geo.load_geojson(province, "prefectures")["features"] + [
        f for f in counties if f["properties"]["adcode"] in direct
    ]
    return {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=64)
def prefecture_geojson(province: str, prefecture: str) -> dict:
    """The counties whose territory lies in *prefecture* (including any the province administers directly).

    Empty when *province*'s county boundaries are not shipped (a national instance ships none).
    """
    if not geo.has_layer(province, "counties"):
        return {"type": "FeatureCollection", "features": []}
    regions = geo.load_regions(province)
    inside = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == prefecture),
                             "adcode"])
    features = [f for f in geo.load_geojson(province, "counties")["features"] if f["properties"]["adcode"] in inside]
    return {"type": "FeatureCollection", "features": features}


def units_geojson(region: str) -> dict:
    """The units a map of *region* (the nation or a province) is drawn in: the provinces, or :func:`province_geojson`."""
    return geo.load_geojson(geo.NATION, "provinces") if region == geo.NATION else province_geojson(region)


# kind → the outlines drawn for an adcode: a map of a region's units (the nation's provinces, a
# province's prefecture-level units), a province's units for the evaluation map, a prefecture's counties.
KINDS: dict[str, Callable[[str], dict]] = {
    "units": units_geojson,
    "province": province_geojson,
    "prefecture": lambda code: prefecture_geojson(geo.province_of(code), code),
}


@lru_cache(maxsize=128)
def _body(kind: str, code: str) -> tuple[bytes, str]:
    """The outline file served for (*kind*, *code*) and its digest (the cache-busting ``v``)."""
    body = json.dumps(KINDS[kind](code), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:16]


def outline(kind: str, code: str) -> tuple[dict, str]:
    """(the GeoJSON, its URL) of *kind*'s outlines for *code* — the dict for the server's own use
    (which regions are drawn), the URL for the figure."""
    geojson = KINDS[kind](code)
    return geojson, f"/outlines/{kind}/{code}.geojson?v={_body(kind, code)[1]}"


def serve(kind: str, code: str) -> flask.Response:
    """``GET /outlines/<kind>/<code>.geojson``: the outline file, cached by the browser; 404 for no outlines."""
    # The code reaches file paths (geo.geo_dir): six digits or nothing.
    if kind not in KINDS or not _ADCODE.fullmatch(code) or not KINDS[kind](code)["features"]:
        flask.abort(404)
    body, digest = _body(kind, code)
    response = flask.Response(body, mimetype="application/geo+json")
    response.set_etag(digest)
    # The page asks with ?v=<digest>: that URL's bytes never change. Without it, revalidate.
    current = flask.request.args.get("v") == digest
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable" if current else "private, no-cache"
    return response.make_conditional(flask.request)


def install(server: flask.Flask) -> None:
    """Route :data:`ROUTE` on *server* (behind the sign-in gate, like every route)."""
    server.add_url_rule(ROUTE, "opsmon_outlines", serve)

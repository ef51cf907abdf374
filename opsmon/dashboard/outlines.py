"""Region outlines (GeoJSON) for the maps: what a province's map and a prefecture's map draw.

Shared by the overview's drill-down map and the risk map; read from the boundary
files shipped in ``opsmon/assets/geo`` (:mod:`opsmon.geo`) and kept in memory.
"""

from __future__ import annotations

from functools import lru_cache

from opsmon import geo


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

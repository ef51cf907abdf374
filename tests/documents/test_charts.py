"""The documents' charts: PNGs drawn with a CJK font (no missing-glyph boxes), the map from the shipped GeoJSON."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from opsmon import geo
from opsmon.documents import charts
from tests.documents.conftest import ARTIFACTS


def size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG"
        return img.size


def drawn_without_missing_glyphs(draw) -> bytes:
    """*draw()*'s PNG, failing on matplotlib's "Glyph … missing from font" warning (tofu boxes)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = draw()
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert missing == []
    return png


def test_bar_ranking():
    png = drawn_without_missing_glyphs(lambda: charts.bar_ranking(
        ["长春市", "吉林市", "延边朝鲜族自治州", "梅河口市"], [5.1, -2.3, float("nan"), 3.0], ["5.1%", "-2.3%", "—", "3.0%"],
        title="各市（州）医疗收入增幅（1—5月）", unit="%"))
    width, height = size(png)
    assert width > 600 and height > 200


def test_line_chart_of_this_year_against_last():
    png = drawn_without_missing_glyphs(lambda: charts.line_yoy(
        [1.2, 0.8, None, 2.5, 3.1], [None, None, 0.5, 1.0, 1.5, 2.0, 2.2, 2.1, 1.9, 1.4, 1.2, 0.9],
        years=(2026, 2025), title="收支结余率（当月）", unit="%"))
    assert size(png)[0] > 600


def test_choropleth_of_the_prefectures():
    layer = geo.load_geojson("220000", "prefectures")["features"]
    meihekou = [f for f in geo.load_geojson("220000", "counties")["features"] if f["id"] == "220581"]
    features = layer + meihekou
    values = {str(f["id"]): float(i) for i, f in enumerate(features)}
    values["222400"] = None  # no value: drawn grey
    png = drawn_without_missing_glyphs(lambda: charts.choropleth(
        features, values, {c: "—" if v is None else f"{v:.1f}%" for c, v in values.items()},
        title="吉林省各市（州）医疗收入增幅", legend="%"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "bulletin_map.png").write_bytes(png)
    width, height = size(png)
    assert width > 800 and height > 600
    with Image.open(io.BytesIO(png)) as img:  # filled regions: many distinct blues, not an empty frame
        assert len(img.convert("RGB").getcolors(maxcolors=1_000_000)) > 50


def test_the_same_chart_gives_the_same_bytes():
    def draw() -> bytes:
        return charts.bar_ranking(["甲", "乙"], [1.0, 2.0], ["1.0%", "2.0%"], title="示例")

    assert draw() == draw()

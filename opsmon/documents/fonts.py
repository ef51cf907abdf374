"""Finding a CJK font for the PDFs and the charts, and cutting the PDFs' subsets.

Debian's ``fonts-noto-cjk`` ships OpenType collections with CFF outlines
(``/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc``, ``NotoSerifCJK-*.ttc``; the
simplified-Chinese face is one of several in each file). matplotlib (≥ 3.10) draws
with such a face directly. fpdf2 (≥ 2.8) could embed it too (``collection_font_number``),
but writes a CID-keyed CFF font with a custom encoding CMap that some readers decode
wrongly (pypdf reads every code as one byte: the text comes back garbled). So
:func:`truetype_subset` cuts the face down to the characters a document uses and
converts the outlines to TrueType quadratics (fontTools' cu2qu: well under a second)
— fpdf2 then embeds a plain CIDFontType2 subset (``FontFile2``, Identity-H), which
every reader decodes. Other fonts with simplified Chinese (``fonts-wqy-microhei``,
``fonts-droid-fallback``…) serve as well.

Fonts are found with fontconfig (``fc-list :lang=zh-cn``: faces that cover
simplified Chinese); where fontconfig is missing, at known Debian paths. Without
any, :class:`FontNotFound` says which Debian package to install.
"""

from __future__ import annotations

import functools
import shutil
import subprocess  # nosec B404: fc-list, a fixed command without user input
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PACKAGE = "fonts-noto-cjk"
# Font files fpdf2 and matplotlib can read (fontconfig also lists bitmap fonts).
_OUTLINE_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# Family preferences, best first: a serif (宋体-like) for the body, a sans (黑体-like) for headings
# and charts; any face covering simplified Chinese is the last resort.
SERIF_FAMILIES = ("Noto Serif CJK SC", "Source Han Serif SC", "Source Han Serif CN", "AR PL UMing CN")
SANS_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei",
                 "WenQuanYi Zen Hei", "Droid Sans Fallback")
# Where Debian's packages put them, for a system without fontconfig's tools.
KNOWN_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


class FontNotFound(RuntimeError):
    """No font covering simplified Chinese is installed."""


@dataclass(frozen=True)
class FontFace:
    """One face of a font file: *index* is its number in a collection (.ttc), 0 otherwise."""

    path: Path
    index: int
    family: str
    style: str = "Regular"

    @property
    def bold(self) -> bool:
        """Whether the face is a bold one."""
        return "bold" in self.style.lower() or "heavy" in self.style.lower() or "black" in self.style.lower()


@dataclass(frozen=True)
class CjkFonts:
    """The faces the documents use: *body* text (serif if any), *heading* (bold sans if any) and
    *sans* (charts, regular)."""

    body: FontFace
    heading: FontFace
    sans: FontFace


def _fc_list() -> list[FontFace]:
    """Faces fontconfig says cover simplified Chinese ([] without fontconfig)."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    out = subprocess.run([exe, "-f", r"%{file}\t%{index}\t%{family[0]}\t%{style[0]}\n", ":lang=zh-cn"],  # nosec B603
                         capture_output=True, text=True, timeout=30, check=False).stdout
    faces = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0].lower().endswith(_OUTLINE_SUFFIXES):
            faces.append(FontFace(Path(parts[0]), int(parts[1] or 0), parts[2], parts[3] or "Regular"))
    return faces


def _known_files() -> list[FontFace]:
    """The faces of :data:`KNOWN_FILES` that exist, named from their own name tables."""
    from fontTools.ttLib import TTCollection, TTFont

    faces = []
    for name in KNOWN_FILES:
        path = Path(name)
        if not path.is_file():
            continue
        fonts = TTCollection(path, lazy=True).fonts if path.suffix.lower() in (".ttc", ".otc") \
            else [TTFont(path, lazy=True)]
        for index, font in enumerate(fonts):
            names = font["name"]
            faces.append(FontFace(path, index, names.getDebugName(1) or path.stem, names.getDebugName(2) or "Regular"))
    return faces


def _pick(faces: list[FontFace], families: tuple[str, ...], bold: bool) -> FontFace | None:
    """The first of *families* available, in the wanted weight if it has it."""
    for family in families:
        matches = [f for f in faces if f.family == family]
        if matches:
            return next((f for f in matches if f.bold == bold), matches[0])
    return None


@functools.lru_cache(maxsize=1)
def find() -> CjkFonts:
    """The CJK faces installed (looked up once per process); :class:`FontNotFound` without any."""
    faces = _fc_list() or _known_files()
    # "SC" faces first among unknown families: the documents are in simplified Chinese.
    others = tuple(dict.fromkeys(f.family for f in sorted(faces, key=lambda f: (" SC" not in f.family, f.family))))
    if not faces:
        raise FontNotFound(
            "no font covering simplified Chinese was found (fc-list :lang=zh-cn lists none, nor are any at "
            f"Debian's usual paths): install Debian's {DEBIAN_PACKAGE} package "
            f"(apt-get install {DEBIAN_PACKAGE}) to render PDFs and charts")
    sans = _pick(faces, SANS_FAMILIES + others, bold=False)
    heading = _pick(faces, SANS_FAMILIES + others, bold=True)
    body = _pick(faces, SERIF_FAMILIES + SANS_FAMILIES + others, bold=False)
    if not (sans and heading and body):  # cannot happen: faces is not empty and *others* names every family in it
        raise FontNotFound(f"no usable CJK face among {others}: install Debian's {DEBIAN_PACKAGE} package")
    return CjkFonts(body=body, heading=heading, sans=sans)


@functools.lru_cache(maxsize=1)
def matplotlib_family() -> str:
    """The family name matplotlib should draw Chinese with (the sans face, registered with matplotlib)."""
    from matplotlib import font_manager

    face = find().sans
    # Fonts outside matplotlib's search path (found at a known path) must be registered;
    # adding one it already knows is harmless.
    font_manager.fontManager.addfont(str(face.path))
    return face.family


def missing_characters(face: FontFace, text: str) -> str:
    """The characters of *text* *face* has no glyph for (spaces and line breaks aside), in order of appearance."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(face.path, fontNumber=face.index, lazy=True).getBestCmap()
    return "".join(dict.fromkeys(ch for ch in text if not ch.isspace() and ord(ch) not in cmap))


def truetype_subset(face: FontFace, text: str, directory: Path) -> Path:
    """A TrueType file in *directory* holding *face*'s glyphs for the characters of *text*.

    CFF outlines are converted to quadratic (TrueType) ones; hinting and layout tables
    are dropped (a document's text is set by fpdf2 without them). The file is named
    after the face, so one directory can hold several.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(face.path, fontNumber=face.index, lazy=True)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    if "CFF " in font or "CFF2" in font:
        _to_quadratic(font)
    out = directory / f"{face.path.stem}-{face.index}.ttf"
    font.save(out)
    return out


def _to_quadratic(font) -> None:
    """Replace a font's CFF outlines by TrueType ones (after fontTools' Snippets/otf2ttf.py)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        # Cubic → quadratic within 1 font unit; TrueType winds the other way round.
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for tag in ("CFF ", "CFF2", "VORG"):
        if tag in font:
            del font[tag]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs", "maxStackElements",
                 "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"

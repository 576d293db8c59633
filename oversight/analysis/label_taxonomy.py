"""Label names, Parents, Aliases and Categories for the 1000 ImageNet classes, from WordNet.

ImageNet classes are WordNet noun synsets, so WordNet's hypernym graph gives every class its
ancestors (malamute -> dog -> canine -> animal). The class list ships in the `timm` wheel and the
WordNet 3.0 database in Debian's `wordnet-base`; both are read once at first use.

Naming follows Rekognition's habits: the first lemma in title case, a few WordNet nodes renamed
to the name Rekognition uses for the same concept, and abstract nodes that Rekognition never
reports ("Physical Entity", "Whole", "Placental") left out of labels and Parents alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models.base import ModelUnavailable, package_file

WORDNET_NOUNS = Path("/usr/share/wordnet/data.noun")

# WordNet nodes too abstract to be a useful label (each covers most of ImageNet, or is jargon).
_HIDDEN = frozenset(
    {
        "entity",
        "physical_entity",
        "object",
        "whole",
        "artifact",
        "organism",
        "living_thing",
        "instrumentality",
        "chordate",
        "vertebrate",
        "placental",
        "matter",
        "substance",
        "solid",
        "commodity",
        "consumer_goods",
        "device",
        "container",
        "covering",
        "protective_covering",
        "implement",
        "equipment",
        "structure",
        "diapsid",
        "self-propelled_vehicle",
        "wheeled_vehicle",
        "odd-toed_ungulate",
        "even-toed_ungulate",
        "ruminant",
        "bovid",
        "instrument",
        "furnishing",
        "nutriment",
        "geological_formation",
        "abstraction",
        "causal_agent",
        "invertebrate",
        "arthropod",
        "passerine",
        "oscine",
        "craft",
    }
)
# WordNet name -> the name Rekognition gives the same concept.
_RENAMED = {
    "domestic_animal": "Pet",
    "conveyance": "Transportation",
    "public_transport": "Transportation",
    "motor_vehicle": "Vehicle",
    "garment": "Clothing",
    "canine": "Canine",
    "feline": "Cat",
}
# Rekognition's label categories, assigned from the first WordNet ancestor that names one.
_CATEGORIES = {
    "animal": "Animals and Pets",
    "conveyance": "Vehicles and Automotive",
    "food": "Food and Beverage",
    "beverage": "Food and Beverage",
    "clothing": "Apparel and Accessories",
    "plant": "Plants and Flowers",
    "fungus": "Plants and Flowers",
    "furniture": "Home and Indoors",
    "musical_instrument": "Hobbies and Interests",
    "sports_equipment": "Sports",
    "electronic_equipment": "Technology and Computing",
    "computer": "Technology and Computing",
    "tool": "Tools and Machinery",
    "machine": "Tools and Machinery",
    "building": "Buildings and Architecture",
    "structure": "Buildings and Architecture",
    "geological_formation": "Nature and Outdoors",
    "weapon": "Weapons and Military",
}


@dataclass(frozen=True)
class Label:
    name: str
    aliases: tuple[str, ...]
    parents: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class _Synset:
    words: tuple[str, ...]
    hypernyms: tuple[str, ...]


def _read_wordnet(path: Path) -> dict[str, _Synset]:
    """Noun synsets by offset: `offset lexfile pos w_cnt(hex) word lex_id ... p_cnt ptr...`."""
    if not path.is_file():
        raise ModelUnavailable(f"{path} not found: install the Debian package wordnet-base")
    synsets = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith(" "):  # licence header
                continue
            fields = line.split(" ")
            n_words = int(fields[3], 16)
            words = tuple(fields[4 : 4 + 2 * n_words : 2])
            at = 4 + 2 * n_words
            pointers = fields[at + 1 : at + 1 + 4 * int(fields[at])]
            hypernyms = tuple(
                pointers[i + 1] for i in range(0, len(pointers), 4) if pointers[i] in ("@", "@i")
            )
            synsets[fields[0]] = _Synset(words, hypernyms)
    return synsets


_LOWERCASE_WORDS = frozenset({"of", "and", "the", "in", "on", "for", "a", "an", "to"})


def _display(word: str) -> str:
    """WordNet lemma -> title case, small words kept lower case ("Bird of Prey")."""
    parts = word.replace("_", " ").split()
    return " ".join(
        part if i and part in _LOWERCASE_WORDS else part[:1].upper() + part[1:]
        for i, part in enumerate(parts)
    )


def _ancestors(synsets: dict[str, _Synset], offset: str) -> list[str]:
    """All hypernyms of `offset`, nearest first (breadth-first over the DAG)."""
    order, seen, frontier = [], {offset}, [offset]
    while frontier:
        nxt = []
        for node in frontier:
            for parent in synsets[node].hypernyms:
                if parent not in seen:
                    seen.add(parent)
                    order.append(parent)
                    nxt.append(parent)
        frontier = nxt
    return order


class LabelTaxonomy:
    """Labels reachable from the ImageNet classes and which classes each label covers."""

    def __init__(self, class_ids: list[str], synsets: dict[str, _Synset]) -> None:
        covers: dict[str, set[int]] = {}
        parents: dict[str, dict[str, None]] = {}
        aliases: dict[str, set[str]] = {}
        categories: dict[str, dict[str, None]] = {}
        for index, wnid in enumerate(class_ids):
            for offset in (wnid[1:], *_ancestors(synsets, wnid[1:])):
                word = synsets[offset].words[0]
                if word in _HIDDEN:
                    continue
                label = self._name(word)
                covers.setdefault(label, set()).add(index)
                if label in parents:
                    continue  # synsets already seen under this name were expanded before
                chain = _ancestors(synsets, offset)
                parents[label] = dict.fromkeys(
                    n
                    for o in chain
                    if synsets[o].words[0] not in _HIDDEN
                    and (n := self._name(synsets[o].words[0])) != label
                )
                aliases[label] = {_display(w) for w in synsets[offset].words[1:]} - {label}
                categories[label] = dict.fromkeys(
                    _CATEGORIES[w]
                    for o in (offset, *chain)
                    if (w := synsets[o].words[0]) in _CATEGORIES
                )
        self.labels = [
            Label(
                name,
                tuple(sorted(aliases[name])),
                tuple(parents[name]),
                tuple(categories[name])[:1],
            )
            for name in covers
        ]
        # labels x classes incidence: label confidence = summed probability of its classes.
        self._matrix = np.zeros((len(self.labels), len(class_ids)), np.float32)
        for row, label in enumerate(self.labels):
            self._matrix[row, sorted(covers[label.name])] = 1.0

    @staticmethod
    def _name(word: str) -> str:
        return _RENAMED.get(word) or _display(word)

    def confidences(self, class_probabilities: np.ndarray) -> np.ndarray:
        """Probability (0-1) of every label, aligned with `self.labels`."""
        return np.minimum(self._matrix @ class_probabilities.astype(np.float32), 1.0)


_lock = threading.Lock()
_taxonomy: list[LabelTaxonomy] = []


def label_taxonomy() -> LabelTaxonomy:
    """The process-wide taxonomy, built on first use (~1 s to parse WordNet)."""
    with _lock:
        if not _taxonomy:
            class_ids = (
                package_file("timm", "data", "_info", "imagenet_synsets.txt").read_text().split()
            )
            _taxonomy.append(LabelTaxonomy(class_ids, _read_wordnet(WORDNET_NOUNS)))
        return _taxonomy[0]

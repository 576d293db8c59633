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
    "television_receiver": "TV",
    "cellular_telephone": "Mobile Phone",
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
    "tableware": "Kitchen and Dining",
    "kitchen_utensil": "Kitchen and Dining",
    "cooking_utensil": "Kitchen and Dining",
    "home_appliance": "Home and Indoors",
    "measuring_instrument": "Tools and Machinery",
    "implement": "Tools and Machinery",
    "toiletry": "Beauty and Personal Care",
    "jewelry": "Apparel and Accessories",
    "bag": "Apparel and Accessories",
    "person": "Person Description",
    "fruit": "Food and Beverage",
    "plant_part": "Plants and Flowers",
    "drug": "Medical",
    # The root of made things, so that no object is left without a category (Umbrella).
    "artifact": "Everyday Objects",
}


# COCO class (the object detector's names) -> WordNet 3.0 noun synset offset, the sense COCO
# means ("kite" the toy, "mouse" the device), so detected objects get Parents like the rest.
COCO_SYNSETS = {
    "person": "00007846", "bicycle": "02834778", "car": "02958343", "motorcycle": "03790512",
    "airplane": "02691156", "bus": "02924116", "train": "04468005", "truck": "04490091",
    "boat": "02858304", "traffic light": "06874185", "fire hydrant": "03346898",
    "stop sign": "06794110", "parking meter": "03891332", "bench": "02828884",
    "bird": "01503061", "cat": "02121620", "dog": "02084071", "horse": "02374451",
    "sheep": "02411705", "cow": "02403454", "elephant": "02503517", "bear": "02131653",
    "zebra": "02391049", "giraffe": "02439033", "backpack": "02769748", "umbrella": "04507155",
    "handbag": "02774152", "tie": "03815615", "suitcase": "02773838", "frisbee": "03397947",
    "skis": "04228054", "snowboard": "04251791", "sports ball": "02778669",
    "kite": "03621473", "baseball bat": "02799175", "baseball glove": "02800213",
    "skateboard": "04225987", "surfboard": "04363559", "tennis racket": "04409806",
    "bottle": "02876657", "wine glass": "04592099", "cup": "03147509", "fork": "03383948",
    "knife": "03623556", "spoon": "04284002", "bowl": "02881193", "banana": "07753592",
    "apple": "07739125", "sandwich": "07695965", "orange": "07747607", "broccoli": "07714990",
    "carrot": "07730207", "hot dog": "07697537", "pizza": "07873807", "donut": "07639069",
    "cake": "07628870", "chair": "03001627", "couch": "04256520", "potted plant": "13083023",
    "bed": "02818832", "dining table": "03201208", "toilet": "04446521", "tv": "04405907",
    "laptop": "03642806", "mouse": "03793489", "remote": "04074963", "keyboard": "03085013",
    "cell phone": "02992529", "microwave": "03761084", "oven": "03862676",
    "toaster": "04442312", "sink": "04223580", "refrigerator": "04070727", "book": "02870092",
    "clock": "03046257", "vase": "04522168", "scissors": "04148054", "teddy bear": "04399382",
    "hair drier": "03483316", "toothbrush": "04453156",
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
        self._synsets = synsets
        covers: dict[str, set[int]] = {}
        labels: dict[str, Label] = {}
        for index, wnid in enumerate(class_ids):
            for offset in (wnid[1:], *_ancestors(synsets, wnid[1:])):
                word = synsets[offset].words[0]
                if word in _HIDDEN:
                    continue
                label = self._name(word)
                covers.setdefault(label, set()).add(index)
                # The first synset met under a name gives its Parents, Aliases and Categories.
                labels.setdefault(label, self.label_for(offset))
        self.labels = list(labels.values())
        # labels x classes incidence: label confidence = summed probability of its classes.
        self._matrix = np.zeros((len(self.labels), len(class_ids)), np.float32)
        for row, label in enumerate(self.labels):
            self._matrix[row, sorted(covers[label.name])] = 1.0

    def label_for(self, offset: str) -> Label:
        """The label of any WordNet noun synset (by offset), with its Parents, Aliases and
        first Category, named as the ImageNet labels are."""
        synsets = self._synsets
        name = self._name(synsets[offset].words[0])
        chain = _ancestors(synsets, offset)
        parents = dict.fromkeys(
            n
            for o in chain
            if synsets[o].words[0] not in _HIDDEN
            and (n := self._name(synsets[o].words[0])) != name
        )
        aliases = {_display(w) for w in synsets[offset].words[1:]} - {name}
        categories = dict.fromkeys(
            _CATEGORIES[w] for o in (offset, *chain) if (w := synsets[o].words[0]) in _CATEGORIES
        )
        return Label(name, tuple(sorted(aliases)), tuple(parents), tuple(categories)[:1])

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

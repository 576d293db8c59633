"""DetectLabels: objects and scenes from the ImageNet classifier, boxed objects from the COCO
detector, people from the COCO and body detectors and faces, each label with its WordNet
Parents, Aliases and Categories.

A label's confidence is the classifier's summed probability over every ImageNet class under it
("Dog" = all 118 breeds), so general labels are confident when the model is unsure between
close classes, as Rekognition's are. A COCO object ("Horse", "Car") is a label with one
Instance per box, its confidence the best box's; when the classifier names it too, the higher
confidence wins. ImageNet has no person class: Person comes from the COCO and body detectors
(one Instance per person) and from detected faces; Face has one Instance per face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..images import DecodedImage
from ..models.mobilenet_v2 import MobileNetV2
from .faces import face_analyzer
from .label_taxonomy import COCO_SYNSETS, label_taxonomy
from .objects import DetectedObject, detect_objects
from .people import MIN_OBJECT_SCORE, detect_people

LABEL_MODEL_VERSION = "oversight-mobilenetv2-imagenet-ssd-coco-wordnet-2"
# Labels below this probability are never candidates (keeps responses small at MinConfidence 0).
_FLOOR = 0.005


@dataclass(frozen=True)
class DetectedLabel:
    name: str
    confidence: float  # 0-100
    parents: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # (box as Rekognition's BoundingBox ratios, confidence 0-100) per instance
    instances: tuple[tuple[dict[str, float], float], ...] = field(default=())


# Constructing a model is cheap; its weights load on first call, once, under its lock.
_CLASSIFIER = MobileNetV2()


def _classified(image: DecodedImage) -> list[DetectedLabel]:
    taxonomy = label_taxonomy()
    confidences = taxonomy.confidences(_CLASSIFIER(image.rgb))
    return [
        DetectedLabel(
            label.name, float(conf) * 100.0, label.parents, label.aliases, label.categories
        )
        for label, conf in zip(taxonomy.labels, confidences, strict=True)
        if conf >= _FLOOR
    ]


def _boxed(image: DecodedImage, objects: list[DetectedObject]) -> list[DetectedLabel]:
    """One label per COCO class found, people aside (`_people` handles them)."""
    taxonomy = label_taxonomy()
    labels = []
    for name in dict.fromkeys(o.name for o in objects if o.name != "person"):
        label = taxonomy.label_for(COCO_SYNSETS[name])
        instances = tuple(
            (image.bounding_box(o.box), o.score * 100.0) for o in objects if o.name == name
        )
        labels.append(
            DetectedLabel(
                label.name,
                max(score for _, score in instances),
                label.parents,
                label.aliases,
                label.categories,
                instances,
            )
        )
    return labels


def _people(image: DecodedImage, objects: list[DetectedObject]) -> list[DetectedLabel]:
    people = tuple(
        (image.bounding_box(p.box), p.score * 100.0) for p in detect_people(image, objects)
    )
    faces = tuple(
        (image.bounding_box(f.box), f.score * 100.0) for f in face_analyzer().detect(image)
    )
    labels = []
    if people or faces:
        # A visible face is a person too, even when the body detector misses them.
        confidence = max(score for _, score in people + faces)
        labels.append(
            DetectedLabel(
                "Person",
                confidence,
                aliases=("Human",),
                categories=("Person Description",),
                instances=people,
            )
        )
    if faces:
        labels.append(
            DetectedLabel(
                "Face",
                max(score for _, score in faces),
                parents=("Person",),
                categories=("Person Description",),
                instances=faces,
            )
        )
    return labels


def detect_labels(image: DecodedImage) -> list[DetectedLabel]:
    """Every label found, most confident first. Within the same whole percent the more
    specific label leads: "Dog" before its parents "Canine" and "Animal", which the summed
    probabilities put a fraction of a percent higher."""
    objects = detect_objects(image.rgb, MIN_OBJECT_SCORE)
    labels: dict[str, DetectedLabel] = {}
    for label in (*_classified(image), *_boxed(image, objects), *_people(image, objects)):
        labels[label.name] = _merge(labels.get(label.name), label)
    return sorted(labels.values(), key=lambda lb: (-int(lb.confidence), -len(lb.parents), lb.name))


def _merge(known: DetectedLabel | None, new: DetectedLabel) -> DetectedLabel:
    """One label from two sources: the higher confidence, the union of everything else."""
    if known is None:
        return new
    return DetectedLabel(
        new.name,
        max(known.confidence, new.confidence),
        tuple(dict.fromkeys(known.parents + new.parents)),
        tuple(dict.fromkeys(known.aliases + new.aliases)),
        tuple(dict.fromkeys(known.categories + new.categories)),
        known.instances + new.instances,
    )

"""Class lists of the benchmark datasets, and the phrases CLIP's prompts use for them.

Dataset class names are identifiers (``pottedplant``); CLIP reads text, so each name
maps to a natural phrase. Names absent from a mapping are used as they are. COCO's 80
class names are read from its annotation files, in category-id order.
"""

from __future__ import annotations

#: PASCAL VOC's 20 classes, in the devkit's (alphabetical) order.
VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
]  # fmt: skip

VOC_PROMPT_NAMES = {
    "aeroplane": "airplane",
    "diningtable": "dining table",
    "pottedplant": "potted plant",
    "tvmonitor": "tv monitor",
}

#: COCO's names are phrases already; only a spelling CLIP rarely saw is changed.
COCO_PROMPT_NAMES = {"hair drier": "hair dryer"}

#: NUS-WIDE's 81 concepts, in the order of the official ``Concepts81.txt``.
NUSWIDE_CONCEPTS = [
    "airport", "animal", "beach", "bear", "birds", "boats", "book", "bridge", "buildings",
    "cars", "castle", "cat", "cityscape", "clouds", "computer", "coral", "cow", "dancing",
    "dog", "earthquake", "elk", "fire", "fish", "flags", "flowers", "food", "fox", "frost",
    "garden", "glacier", "grass", "harbor", "horses", "house", "lake", "leaf", "map",
    "military", "moon", "mountain", "nighttime", "ocean", "person", "plane", "plants",
    "police", "protest", "railroad", "rainbow", "reflection", "road", "rocks", "running",
    "sand", "sign", "sky", "snow", "soccer", "sports", "statue", "street", "sun", "sunset",
    "surf", "swimmers", "tattoo", "temple", "tiger", "tower", "town", "toy", "train", "tree",
    "valley", "vehicle", "water", "waterfall", "wedding", "whales", "window", "zebra",
]  # fmt: skip

#: NUS-WIDE concepts are Flickr tags; a few read better as what the image shows.
NUSWIDE_PROMPT_NAMES = {
    "dancing": "people dancing",
    "plane": "airplane",
    "running": "people running",
    "surf": "surfing",
}


def prompt_names(classes: list[str], mapping: dict[str, str]) -> list[str]:
    """Each class's phrase: its entry in ``mapping``, else the name itself."""
    return [mapping.get(c, c) for c in classes]

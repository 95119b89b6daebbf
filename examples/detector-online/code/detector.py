"""A small object detector: objects are connected regions that stand out from their background.

It needs numpy and Pillow only, and nothing is downloaded: the "model" is the JSON file in
``blob-detector/`` (how far a pixel must differ from the background to be part of an object, and
the smallest object worth a box). What it shares with a real detector is the interface: an image
in, ``[{"box": [x0, y0, x1, y1], "score": s, "label": name}, ...]`` out, and the inference-time
parameters of Azure AutoML's object-detection models, which a deployment sets through environment
variables:

========================== ======= =========================================================
variable                   default meaning
========================== ======= =========================================================
BOX_SCORE_THRESH           0.3     only return boxes with a score greater than this
BOX_DETECTIONS_PER_IMG     100     at most this many boxes, the highest scores first
TILE_GRID_SIZE             (none)  e.g. ``3x2``: detect in 3 columns x 2 rows of tiles
TILE_OVERLAP_RATIO         0.25    overlap between adjacent tiles, in each dimension
TILE_PREDICTIONS_NMS_THRESH 0.25   boxes from different tiles overlapping more than this
                                   (intersection over the smaller box) are one object
========================== ======= =========================================================

How it works, per tile: the background is the tile's median colour; a pixel belongs to an object
when one of its channels differs from the background by more than ``foreground_delta``; the
connected regions of such pixels are the objects. A box's **score** is the object's mean contrast
against the background (0 to 1: black on white is about 1), and its **label** its colour. Tiling
makes the background local, which keeps a large image with uneven lighting from turning into one
big object; an object cut by a tile's edge is whole in the overlapping neighbour tile, and the
pieces merge back into one box.
"""

import json
import os
from dataclasses import dataclass

import numpy as np

#: Environment variable -> InferenceSettings field.
ENVIRONMENT_VARIABLES = {
    "BOX_SCORE_THRESH": "box_score_thresh",
    "BOX_DETECTIONS_PER_IMG": "box_detections_per_img",
    "TILE_GRID_SIZE": "tile_grid_size",
    "TILE_OVERLAP_RATIO": "tile_overlap_ratio",
    "TILE_PREDICTIONS_NMS_THRESH": "tile_predictions_nms_thresh",
}


def parse_grid(text):
    """``"3x2"`` -> (3 columns, 2 rows); ``"2"`` -> (2, 2); ``""``/``"none"``/``"1x1"`` -> None."""
    cleaned = text.strip().lower().replace(" ", "").strip("()").replace(",", "x")
    if cleaned in ("", "none"):
        return None
    parts = cleaned.split("x")
    if len(parts) == 1:
        parts = parts * 2
    try:
        cols, rows = (int(p) for p in parts)
    except ValueError:
        cols = rows = 0
    if len(parts) != 2 or not (1 <= cols <= 16 and 1 <= rows <= 16):
        raise ValueError(
            f"TILE_GRID_SIZE {text!r} is not a grid: write COLSxROWS with 1 to 16 each, e.g. 3x2"
        )
    return None if (cols, rows) == (1, 1) else (cols, rows)


@dataclass(frozen=True)
class InferenceSettings:
    """The inference-time parameters (Azure AutoML's names), read from the environment."""

    box_score_thresh: float = 0.3
    box_detections_per_img: int = 100
    tile_grid_size: tuple = None
    tile_overlap_ratio: float = 0.25
    tile_predictions_nms_thresh: float = 0.25

    @classmethod
    def from_env(cls, environ=None):
        """Settings from ``environ`` (default ``os.environ``); a bad value raises ValueError."""
        environ = os.environ if environ is None else environ
        values = {}
        for variable, field in ENVIRONMENT_VARIABLES.items():
            raw = environ.get(variable)
            if raw is None or raw.strip() == "":
                continue
            if field == "tile_grid_size":
                values[field] = parse_grid(raw)
                continue
            kind = int if field == "box_detections_per_img" else float
            try:
                values[field] = kind(raw)
            except ValueError:
                raise ValueError(f"{variable}={raw!r} is not a {kind.__name__}") from None
        settings = cls(**values)
        settings.check()
        return settings

    def check(self):
        for name in ("box_score_thresh", "tile_predictions_nms_thresh"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.upper()} is {getattr(self, name)}; use 0 to 1")
        if not 0.0 <= self.tile_overlap_ratio < 1.0:
            raise ValueError(f"TILE_OVERLAP_RATIO is {self.tile_overlap_ratio}; use 0 to 0.99")
        if self.box_detections_per_img < 1:
            raise ValueError("BOX_DETECTIONS_PER_IMG must be at least 1")


def tiles(width, height, grid, overlap):
    """``(x0, y0, x1, y1)`` windows covering the image: one, or cols x rows that overlap."""
    if grid is None:
        return [(0, 0, width, height)]
    cols, rows = grid

    def spans(size, count):
        # count tiles of length t overlapping by overlap*t cover size: t * (count - (count-1)*o)
        length = size / (count - (count - 1) * overlap)
        starts = [round(i * length * (1 - overlap)) for i in range(count)]
        ends = [min(size, round(s + length)) for s in starts[:-1]] + [size]
        return list(zip(starts, ends, strict=True))

    return [(x0, y0, x1, y1) for y0, y1 in spans(height, rows) for x0, x1 in spans(width, cols)]


def connected_regions(mask):
    """Label the 4-connected regions of a boolean mask (0 = background), in numpy only."""
    height, width = mask.shape
    labels = np.where(mask, np.arange(1, height * width + 1).reshape(height, width), 0)
    while True:
        # Every pixel takes the largest label among itself and its neighbours, until stable:
        # each region ends up with its largest pixel index.
        grown = labels.copy()
        np.maximum(grown[1:], labels[:-1], out=grown[1:])
        np.maximum(grown[:-1], labels[1:], out=grown[:-1])
        np.maximum(grown[:, 1:], labels[:, :-1], out=grown[:, 1:])
        np.maximum(grown[:, :-1], labels[:, 1:], out=grown[:, :-1])
        grown[~mask] = 0
        if np.array_equal(grown, labels):
            return labels
        labels = grown


def colour_name(colour, background):
    """A name for an object's mean colour: red, green or blue, else dark or light."""
    if colour.max() - colour.min() < 0.2:
        return "dark" if colour.mean() < background.mean() else "light"
    return ("red", "green", "blue")[int(np.argmax(colour))]


def overlap_of_smaller(a, b):
    """Intersection of two boxes over the area of the smaller one."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller


class BlobDetector:
    """Finds the objects that stand out from their background (see the module docstring)."""

    def __init__(self, foreground_delta=0.15, min_area=9):
        self.foreground_delta = float(foreground_delta)
        self.min_area = int(min_area)

    @classmethod
    def load(cls, folder):
        """The detector saved in ``folder/detector.json``."""
        with open(os.path.join(folder, "detector.json"), encoding="utf-8") as f:
            config = json.load(f)
        return cls(config["foreground_delta"], config["min_area"])

    def detect(self, image, settings=None):
        """The boxes of the objects in a PIL image, highest score first."""
        settings = settings or InferenceSettings()
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        height, width = pixels.shape[:2]
        windows = tiles(width, height, settings.tile_grid_size, settings.tile_overlap_ratio)
        found = []
        for x0, y0, x1, y1 in windows:
            found.extend(self._detect_tile(pixels[y0:y1, x0:x1], x0, y0))
        if len(windows) > 1:
            found = merge(found, settings.tile_predictions_nms_thresh)
        kept = [d for d in found if d["score"] > settings.box_score_thresh]
        kept.sort(key=lambda d: (-d["score"], d["box"]))
        return kept[: settings.box_detections_per_img]

    def _detect_tile(self, tile, left, top):
        background = np.median(tile.reshape(-1, 3), axis=0)
        contrast = np.abs(tile - background).max(axis=2)
        labels = connected_regions(contrast > self.foreground_delta)
        ids, index, area = np.unique(labels, return_inverse=True, return_counts=True)
        index = index.reshape(labels.shape)
        ys, xs = np.indices(labels.shape)
        detections = []
        for i, region in enumerate(ids):
            if region == 0 or area[i] < self.min_area:
                continue
            inside = index == i
            box = [
                int(xs[inside].min()) + left,
                int(ys[inside].min()) + top,
                int(xs[inside].max()) + 1 + left,
                int(ys[inside].max()) + 1 + top,
            ]
            score = float(contrast[inside].mean())
            label = colour_name(tile[inside].mean(axis=0), background)
            detections.append({"box": box, "score": round(score, 4), "label": label})
        return detections


def merge(detections, threshold):
    """Boxes overlapping more than ``threshold`` become one: their union, the best score."""
    merged = []
    for detection in sorted(detections, key=lambda d: -d["score"]):
        for kept in merged:
            if overlap_of_smaller(kept["box"], detection["box"]) > threshold:
                a, b = kept["box"], detection["box"]
                kept["box"] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                break
        else:
            merged.append(dict(detection))
    return merged

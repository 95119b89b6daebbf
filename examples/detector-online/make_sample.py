"""Draw the sample image: shapes of known contrast on a softly lit background.

    python make_sample.py                      # writes samples/shapes.png
    python make_sample.py --output other.png --width 384 --height 256

Three shapes stand out strongly (score about 0.9: they pass a 0.8 threshold), three moderately
(about 0.6: they pass 0.5) and two faintly (about 0.35), so deployments with different
``BOX_SCORE_THRESH`` return 8, 6 or 3 boxes. One strong shape sits on the image's centre, where
the tiles of a 2x2 grid meet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent

#: (kind, box in fractions of the image, fill colour, contrast class); the background is ~245.
SHAPES = [
    ("ellipse", (0.06, 0.10, 0.18, 0.28), (10, 10, 10), "strong"),
    ("rectangle", (0.44, 0.40, 0.56, 0.60), (20, 40, 170), "strong"),
    ("ellipse", (0.78, 0.70, 0.92, 0.90), (180, 20, 20), "strong"),
    ("rectangle", (0.28, 0.12, 0.38, 0.30), (85, 85, 85), "medium"),
    ("ellipse", (0.70, 0.12, 0.82, 0.32), (245, 95, 95), "medium"),
    ("rectangle", (0.10, 0.66, 0.22, 0.88), (95, 200, 95), "medium"),
    ("ellipse", (0.30, 0.70, 0.40, 0.88), (155, 155, 155), "faint"),
    ("rectangle", (0.60, 0.74, 0.70, 0.90), (160, 175, 245), "faint"),
]


def draw(width: int = 192, height: int = 128) -> Image.Image:
    """The sample image at any size (the shapes scale with it)."""
    image = Image.new("RGB", (width, height))
    shade = ImageDraw.Draw(image)
    for y in range(height):  # light falls off from the top: 250 -> 238
        level = round(250 - 12 * y / max(1, height - 1))
        shade.line([(0, y), (width, y)], fill=(level, level, level))
    for kind, (x0, y0, x1, y1), colour, _ in SHAPES:
        box = [round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height)]
        getattr(shade, kind)(box, fill=colour)
    return image


def expected_counts() -> dict[str, int]:
    """How many shapes of each contrast class the image holds."""
    counts: dict[str, int] = {}
    for *_, strength in SHAPES:
        counts[strength] = counts.get(strength, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=HERE / "samples" / "shapes.png")
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--height", type=int, default=128)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    draw(args.width, args.height).save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

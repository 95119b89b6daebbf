"""Train a handwritten-digits classifier and write held-out digits as PNG files to score.

scikit-learn bundles the digits dataset (1,797 images of 8x8 pixels, values 0..16), so nothing is
downloaded. The script writes, under ``--output`` (default: this folder):

* ``model/digits.pkl``: the fitted classifier (joblib). The deployment registers the ``model``
  folder, so the scoring script finds it at ``$AZUREML_MODEL_DIR/model/digits.pkl``.
* ``data/img-00042-label7.png``: 8x8 grayscale PNGs of digits the model never saw, with the true
  label in the file name so accuracy can be computed from ``predictions.csv`` afterwards.

    python train.py                      # model/ and data/ next to this file
    python train.py --output /tmp/digits --n-images 100
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import joblib
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

HERE = Path(__file__).resolve().parent
LABEL = re.compile(r"label(\d)")


def label_of(file_name: str) -> int:
    """The true digit written into an image's file name by :func:`train`."""
    match = LABEL.search(Path(file_name).name)
    if match is None:
        raise ValueError(f"{file_name!r} has no 'label<digit>' in its name")
    return int(match.group(1))


def train(output: Path = HERE, n_images: int = 300, seed: int = 0) -> tuple[Path, Path]:
    """Fit the classifier on all but ``n_images`` digits; returns (model folder, data folder)."""
    digits = load_digits()
    if not 1 <= n_images <= len(digits.target) // 2:
        raise ValueError(f"n_images must be between 1 and {len(digits.target) // 2}")
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=n_images, stratify=digits.target, random_state=seed
    )
    classifier = SVC(gamma=0.001, C=10.0).fit(x_train, y_train)

    model_dir = output / "model"
    data_dir = output / "data"
    for folder in (model_dir, data_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    joblib.dump(classifier, model_dir / "digits.pkl")

    for i, (pixels, label) in enumerate(zip(x_test, y_test, strict=True)):
        # 0..16 intensities scaled to 0..255 grayscale: what a scanner would hand us.
        gray = np.rint(pixels.reshape(8, 8) * (255.0 / 16.0)).astype(np.uint8)
        Image.fromarray(gray, mode="L").save(data_dir / f"img-{i:05d}-label{label}.png")

    accuracy = classifier.score(x_test, y_test)
    print(f"trained on {len(y_train)} digits; held-out accuracy {accuracy:.3f}")
    print(f"model: {model_dir / 'digits.pkl'}")
    print(f"data:  {data_dir} ({len(y_test)} PNG files)")
    return model_dir, data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=HERE, help="folder for model/ and data/")
    parser.add_argument("--n-images", type=int, default=300, help="held-out digits to write")
    args = parser.parse_args()
    train(args.output.resolve(), args.n_images)


if __name__ == "__main__":
    main()

"""Batch scoring script for the digits classifier (Azure ML ``init()`` / ``run(mini_batch)``)."""

import argparse
import logging
import os

import joblib
import numpy as np
import pandas as pd
from PIL import Image

logger = logging.getLogger(__name__)
model = None


def init():
    """Load the model once per worker process."""
    global model

    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--logging_level", type=str, default="INFO")
    args, _ = parser.parse_known_args()
    logger.setLevel(args.logging_level.upper())

    # AZUREML_MODEL_DIR holds the registered folder under its own name: here "model".
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "digits.pkl")
    model = joblib.load(model_path)
    logger.info("loaded %s", model_path)


def run(mini_batch):
    """Classify each PNG file of the mini-batch; one row (file, prediction) per file."""
    logger.info("scoring %d files", len(mini_batch))
    if not mini_batch:
        return pd.DataFrame(columns=["file", "prediction"])
    pixels = []
    for image_path in mini_batch:
        with Image.open(image_path) as image:
            gray = np.asarray(image.convert("L").resize((8, 8)), dtype=np.float64)
        # The model was trained on the dataset's 0..16 intensities.
        pixels.append(gray.reshape(-1) * (16.0 / 255.0))
    predictions = model.predict(np.stack(pixels))
    return pd.DataFrame(
        {
            "file": [os.path.basename(path) for path in mini_batch],
            "prediction": predictions.astype(int),
        }
    )

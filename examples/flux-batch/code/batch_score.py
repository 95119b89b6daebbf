"""Batch text-to-image scoring with a FLUX.1 diffusers pipeline (Azure ML ``init()``/``run()``).

Each input file is a JSON request such as::

    {"prompt": "A red fox in the snow", "steps": 28, "seed": 1, "width": 1024, "height": 1024}

Each image is saved as a PNG in the job's output folder (``AZUREML_BI_OUTPUT_PATH``, where
``predictions.csv`` is written too) under a name no other mini-batch, worker or job can produce,
and ``run()`` returns one line per request: ``<request file> <image file>``.
"""

import argparse
import glob
import json
import logging
import os
import uuid

import torch
from diffusers import FluxPipeline

logger = logging.getLogger(__name__)

pipe = None
device = None
output_path = None


def init():
    """Load the pipeline once per worker process."""
    global pipe, device, output_path

    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--logging_level", type=str, default="INFO")
    args, _ = parser.parse_known_args()
    logger.setLevel(args.logging_level.upper())

    # AZUREML_MODEL_DIR holds the registered folder under its own name (for example
    # "saved_model"); find the save_pretrained folder inside it whatever it is called.
    model_root = os.environ["AZUREML_MODEL_DIR"]
    found = glob.glob(os.path.join(model_root, "**", "model_index.json"), recursive=True)
    if len(found) != 1:
        raise RuntimeError(
            f"expected one diffusers pipeline (model_index.json) under {model_root}, "
            f"found {len(found)}: {found}"
        )
    model_dir = os.path.dirname(found[0])

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    pipe = FluxPipeline.from_pretrained(model_dir, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)

    output_path = os.environ["AZUREML_BI_OUTPUT_PATH"]
    os.makedirs(output_path, exist_ok=True)
    logger.info("loaded %s on %s (%s); images go to %s", model_dir, device, dtype, output_path)


def run(mini_batch):
    """Generate one image per request file; returns "<request file> <image file>" lines."""
    results = []
    for request_file in mini_batch:
        with open(request_file, encoding="utf-8") as f:
            request = json.load(f)
        seed = request.get("seed")
        generator = None if seed is None else torch.Generator(device).manual_seed(int(seed))
        image = pipe(
            prompt=request["prompt"],
            num_inference_steps=int(request.get("steps", 28)),
            guidance_scale=float(request.get("guidance_scale", 3.5)),
            width=int(request.get("width", 1024)),
            height=int(request.get("height", 1024)),
            generator=generator,
        ).images[0]

        # A random suffix: the request's position in its mini-batch repeats across mini-batches
        # and jobs, so an index-based name would overwrite earlier images.
        stem = os.path.splitext(os.path.basename(request_file))[0]
        image_name = f"{stem}-{uuid.uuid4().hex[:8]}.png"
        image.save(os.path.join(output_path, image_name))
        logger.info("%s -> %s", request_file, image_name)
        results.append(f"{os.path.basename(request_file)} {image_name}")
    return results

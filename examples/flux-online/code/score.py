"""Real-time text-to-image with a FLUX.1 diffusers pipeline (Azure ML ``init()``/``run()``).

POST a JSON body such as::

    {"prompt": "A red fox in the snow", "steps": 28, "width": 1024, "height": 1024, "seed": 1}

and the answer is the image itself, ``Content-Type: image/png``. ``steps`` (default 28), ``width``
and ``height`` (default 1024, multiples of 16), ``seed`` (default random) and ``guidance_scale``
(default 3.5) are optional.
"""

import glob
import io
import json
import logging
import os

import torch
from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse
from diffusers import FluxPipeline

logger = logging.getLogger(__name__)

pipe = None
device = None


def find_pipeline(model_root):
    """The save_pretrained folder under AZUREML_MODEL_DIR: saved_model/, or wherever the one
    model_index.json is (a registered folder keeps its own name)."""
    saved_model = os.path.join(model_root, "saved_model")
    if os.path.isfile(os.path.join(saved_model, "model_index.json")):
        return saved_model
    found = glob.glob(os.path.join(model_root, "**", "model_index.json"), recursive=True)
    if len(found) != 1:
        raise RuntimeError(
            f"expected one diffusers pipeline (model_index.json) under {model_root}, "
            f"found {len(found)}: {found}"
        )
    return os.path.dirname(found[0])


def init():
    """Load the pipeline once per replica: on the GPU in bfloat16 if there is one."""
    global pipe, device
    model_dir = find_pipeline(os.environ["AZUREML_MODEL_DIR"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    pipe = FluxPipeline.from_pretrained(model_dir, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    logger.info("loaded %s on %s (%s)", model_dir, device, dtype)


def bad_request(message):
    return AMLResponse({"error": message}, 400, json_str=True)


def parse(body):
    """The pipeline's arguments from the request body, or an error message."""
    try:
        request = json.loads(body)
    except ValueError as exc:
        return None, f"the body is not JSON ({exc})"
    if not isinstance(request, dict) or not isinstance(request.get("prompt"), str):
        return None, 'send a JSON object with a "prompt" string'
    try:
        args = {
            "prompt": request["prompt"],
            "num_inference_steps": int(request.get("steps", 28)),
            "guidance_scale": float(request.get("guidance_scale", 3.5)),
            "width": int(request.get("width", 1024)),
            "height": int(request.get("height", 1024)),
        }
        seed = request.get("seed")
        seed = None if seed is None else int(seed)
    except (TypeError, ValueError) as exc:
        return None, f"steps, width, height and seed are integers ({exc})"
    if not 1 <= args["num_inference_steps"] <= 100:
        return None, "steps must be between 1 and 100"
    for side in ("width", "height"):
        if args[side] % 16 or not 16 <= args[side] <= 2048:
            return None, f"{side} must be a multiple of 16 between 16 and 2048"
    if seed is not None:
        args["generator"] = torch.Generator(device).manual_seed(seed)
    return args, None


@rawhttp
def run(request: AMLRequest):
    """Generate one image and send it back as a PNG."""
    if request.method != "POST":
        return AMLResponse('POST {"prompt": "..."} to get a PNG', 405)
    args, error = parse(request.get_data())
    if error:
        return bad_request(error)
    logger.info(
        "generating %dx%d, %d steps", args["width"], args["height"], args["num_inference_steps"]
    )
    image = pipe(**args).images[0]

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    resp = AMLResponse(buffer.getvalue(), 200)
    resp.mimetype = "image/png"
    return resp

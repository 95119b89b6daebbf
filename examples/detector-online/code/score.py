"""Object detection as an online endpoint: POST an image, get its boxes back as JSON.

The image comes as the multipart field ``file`` (what Postman's "form-data" and
``curl -F file=@image.png`` send) or as the raw body (``curl --data-binary @image.png``). The answer
is ``[{"box": [x0, y0, x1, y1], "score": 0.91, "label": "red"}, ...]`` in pixels of the image,
highest score first. The deployment's environment variables (BOX_SCORE_THRESH, TILE_GRID_SIZE,
...; see detector.py) set the inference-time parameters.
"""

import io
import logging
import os

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse
from detector import BlobDetector, InferenceSettings
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

detector = None
settings = None


def init():
    """Load the detector and read this deployment's inference-time parameters."""
    global detector, settings
    detector = BlobDetector.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "blob-detector"))
    settings = InferenceSettings.from_env()
    logger.info("blob detector ready: %s", settings)


def error(message, status=400):
    return AMLResponse({"error": message}, status, json_str=True)


@rawhttp
def run(request: AMLRequest):
    """Detect the objects in the uploaded image."""
    if request.method != "POST":
        return error("POST an image: multipart field 'file', or the raw bytes as the body", 405)
    if request.mimetype == "multipart/form-data":
        uploads = request.files.getlist("file")
        if not uploads:
            return error(f"no multipart field 'file' (got {sorted(request.files)})")
        stream = uploads[0].stream
    else:
        body = request.get_data()
        if not body:
            return error("the body is empty: send an image")
        stream = io.BytesIO(body)
    try:
        image = Image.open(stream)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        return error(f"not an image Pillow can read ({exc})")
    boxes = detector.detect(image, settings)
    logger.info("%dx%d image: %d boxes", image.width, image.height, len(boxes))
    return AMLResponse(boxes, 200, json_str=True)

"""Online endpoint pages: the list, and one endpoint's deployments, traffic, keys, Test tab,
code snippets, live metrics and replica logs.

Thin over the same objects as the REST API (``server/routes/online.py``): the endpoint service
for traffic and keys, the online service for replicas, logs and counters. The Test tab sends its
request through the real scoring path, an in-process :class:`~ferry.online.gateway.ScoringGateway`
over the server's own online service, with the endpoint's key added here on the server: the
browser never holds a key it was not shown.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import shlex
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from ferry.errors import InvalidInputError, NotFoundError, SpecError
from ferry.online.gateway import ScoringGateway
from ferry.server.routes.deps import WorkspaceDep
from ferry.server.routes.params import name_in_path, path_names
from ferry.server.workspace import Workspace
from ferry.services.endpoint_keys import issue_token
from ferry.specs.loader import spec_from_data
from ferry.specs.names import ENDPOINT_NAME
from ferry.specs.online import OnlineEndpointSpec
from ferry.studio.auth import Csrf, Session
from ferry.studio.pages.online_logs import log_file, logs_view
from ferry.studio.pages.online_metrics import LiveMetrics
from ferry.studio.render import render
from ferry.studio.sse import follow_file, resume_offset, stream

__all__ = ["router"]

router = APIRouter(
    include_in_schema=False,
    dependencies=[path_names(name=ENDPOINT_NAME, deployment=ENDPOINT_NAME)],
)

EndpointName = Annotated[str, name_in_path(ENDPOINT_NAME, "Online endpoint name")]
DeploymentName = Annotated[str, name_in_path(ENDPOINT_NAME, "Deployment name")]

TABS = ("deployments", "keys", "test", "consume", "metrics", "logs")
#: Image types the Test tab shows as an image. Not SVG: it can carry script.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: How much of a text answer the Test tab shows; the rest is summarised.
SHOWN_TEXT = 200_000
_KEY_TYPES = ("primary", "secondary")


# -- list ---------------------------------------------------------------------------------------
@router.get("/studio/online-endpoints", response_class=HTMLResponse)
async def endpoints(request: Request, _: Session, workspace: WorkspaceDep) -> HTMLResponse:
    """Every online endpoint with its state, traffic and deployments."""
    views = await run_in_threadpool(workspace.online.list_endpoints)
    return render(request, "online_list.html", endpoints=views)


# -- one endpoint -------------------------------------------------------------------------------
@router.get("/studio/online-endpoints/{name}", response_class=HTMLResponse)
async def endpoint(
    request: Request,
    name: EndpointName,
    _: Session,
    workspace: WorkspaceDep,
    tab: str = Query(default="deployments"),
) -> HTMLResponse:
    """The endpoint page; ``tab`` picks the section shown."""
    if tab not in TABS:
        raise InvalidInputError(
            f"tab {tab!r} is not one of {', '.join(TABS)}.", details={"field": "tab"}
        )
    return await _page(request, workspace, name, tab)


async def _page(
    request: Request,
    workspace: Workspace,
    name: str,
    tab: str,
    *,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    view, deployments = await run_in_threadpool(_load, workspace, name)
    service = workspace.online_service
    for deployment in deployments:
        deployment.update(service.status(name, deployment["name"]))
    scoring_url = str(request.base_url).rstrip("/") + view["scoring_uri"]
    context: dict[str, Any] = {
        "endpoint": view,
        "deployments": deployments,
        "tab": tab,
        "tabs": TABS,
        "scoring_url": scoring_url,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "traffic_error": None,
        "traffic_form": None,
        "keys": None,
        "test": None,
        "test_body": "",
        "test_deployment": "",
        "logs": None,
    }
    if tab == "logs":
        query = request.query_params
        context["logs"] = await run_in_threadpool(
            logs_view,
            workspace,
            name,
            [d["name"] for d in deployments],
            query.get("deployment", ""),
            query.get("file", ""),
        )
    if tab == "metrics":
        context["rows"] = _live(request, workspace).figures(
            name, [d["name"] for d in deployments], service.pools()
        )
    if tab == "consume":
        context["snippets"] = snippets(scoring_url, name, view.get("auth_mode", "key"))
    context.update(extra)
    return render(request, "online_endpoint.html", status_code=status_code, **context)


def _load(workspace: Workspace, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return workspace.online.endpoint(name), workspace.online.list_deployments(name)


# -- traffic ------------------------------------------------------------------------------------
@router.post("/studio/online-endpoints/{name}/traffic", response_class=HTMLResponse)
async def set_traffic(
    request: Request, name: EndpointName, _: Csrf, workspace: WorkspaceDep
) -> Response:
    """Set the traffic split and the mirror, through the service call the REST API makes."""
    form = await request.form()
    entered = {str(k): str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        spec = await run_in_threadpool(_traffic_spec, workspace, name, entered)
        await run_in_threadpool(workspace.online.put_endpoint, spec)
    except (InvalidInputError, SpecError, NotFoundError) as exc:
        if isinstance(exc, NotFoundError) and exc.details.get("field") not in _TRAFFIC_FIELDS:
            raise  # the endpoint itself is gone: the error page says so
        # Nothing changed: the page comes back with what was typed and why it was refused.
        return await _page(
            request,
            workspace,
            name,
            "deployments",
            status_code=exc.http_status,
            traffic_error=exc.message,
            traffic_form=entered,
        )
    await workspace.online_service.refresh_endpoint(name)
    return _back(name, "deployments", "traffic")


_TRAFFIC_FIELDS = ("traffic", "mirror_traffic")


def _traffic_spec(workspace: Workspace, name: str, form: dict[str, str]) -> OnlineEndpointSpec:
    """The endpoint's spec with the form's ``traffic.<d>`` and ``mirror.<d>`` percentages."""
    deployments = [d["name"] for d in workspace.online.list_deployments(name)]
    split: dict[str, dict[str, int]] = {"traffic": {}, "mirror_traffic": {}}
    for deployment in deployments:
        for key, prefix in (("traffic", "traffic."), ("mirror_traffic", "mirror.")):
            raw = form.get(prefix + deployment, "0").strip() or "0"
            try:
                split[key][deployment] = int(raw)
            except ValueError:
                what = "traffic" if key == "traffic" else "mirror traffic"
                raise InvalidInputError(
                    f"the {what} of deployment {deployment!r} is {raw!r}; enter a whole "
                    "percentage (0-100).",
                    details={"field": key},
                ) from None
    data = {**workspace.online.endpoint_spec(name).to_json(), **split}
    try:
        return spec_from_data(OnlineEndpointSpec, data)
    except SpecError as exc:
        raise SpecError(exc.message + " Nothing was changed.", details=exc.details) from exc


# -- keys ---------------------------------------------------------------------------------------
@router.post("/studio/online-endpoints/{name}/keys/reveal", response_class=HTMLResponse)
async def reveal_keys(
    request: Request, name: EndpointName, _: Csrf, workspace: WorkspaceDep
) -> HTMLResponse:
    """The keys (or a fresh token), shown on request only: a POST, so it needs the CSRF token."""
    keys = await run_in_threadpool(_credentials, workspace, name)
    return await _page(request, workspace, name, "keys", keys=keys)


def _credentials(workspace: Workspace, name: str) -> dict[str, Any]:
    spec = workspace.online.endpoint_spec(name)
    credentials = workspace.online.credentials(name)
    if spec.auth_mode == "aml_token":
        return {"mode": "aml_token", **issue_token(name, credentials.token_secret)}
    return {
        "mode": "key",
        "primary_key": credentials.primary_key,
        "secondary_key": credentials.secondary_key,
    }


@router.get("/studio/online-endpoints/{name}/keys/regenerate", response_class=HTMLResponse)
async def confirm_regenerate(
    request: Request,
    name: EndpointName,
    _: Session,
    workspace: WorkspaceDep,
    key_type: str = Query(default="primary"),
) -> HTMLResponse:
    """The confirmation step before a key is replaced."""
    _check_key_type(key_type)
    view = await run_in_threadpool(workspace.online.endpoint, name)
    return render(request, "online_regenerate.html", endpoint=view, key_type=key_type)


@router.post("/studio/online-endpoints/{name}/keys/regenerate", response_class=HTMLResponse)
async def regenerate(
    name: EndpointName,
    _: Csrf,
    workspace: WorkspaceDep,
    key_type: Annotated[str, Form()],
) -> Response:
    """Replace a key (as ``POST /api/v1/online-endpoints/{name}/keys/regenerate``)."""
    _check_key_type(key_type)
    await run_in_threadpool(workspace.online.regenerate_key, name, key_type)
    await workspace.online_service.refresh_endpoint(name)  # the old key stops working now
    return _back(name, "keys", f"regenerated-{key_type}")


def _check_key_type(key_type: str) -> None:
    if key_type not in _KEY_TYPES:
        raise InvalidInputError(
            f"key_type {key_type!r} is not primary or secondary.", details={"field": "key_type"}
        )


# -- the Test tab -------------------------------------------------------------------------------
@router.post("/studio/online-endpoints/{name}/test", response_class=HTMLResponse)
async def test_request(
    request: Request,
    name: EndpointName,
    _: Csrf,
    workspace: WorkspaceDep,
    deployment: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    file: UploadFile | None = None,
) -> HTMLResponse:
    """Send a request through the scoring gateway with the endpoint's key; show the answer."""
    keep: dict[str, Any] = {"test_body": body, "test_deployment": deployment}
    upload = await file.read() if file is not None and file.filename else b""
    if upload:
        assert file is not None
        content, content_type = upload, file.content_type or "application/octet-stream"
    else:
        if not body.strip():
            return await _page(
                request,
                workspace,
                name,
                "test",
                status_code=422,
                test={"error": "enter a JSON request body or choose a file to send."},
                **keep,
            )
        try:
            json.loads(body)
        except json.JSONDecodeError as exc:
            message = (
                f"the request body is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                f"{exc.colno}); fix it, or send it as a file to pass it unchanged."
            )
            return await _page(
                request, workspace, name, "test", status_code=422, test={"error": message}, **keep
            )
        content, content_type = body.encode(), "application/json"
    credentials = await run_in_threadpool(_credentials, workspace, name)
    secret = credentials.get("primary_key") or credentials.get("access_token")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": content_type}
    if deployment:
        headers["azureml-model-deployment"] = deployment
    result = await _score(workspace, name, content, headers)
    result["sent_bytes"] = len(content)
    result["sent_type"] = content_type
    result["sent_file"] = file.filename if upload and file is not None else None
    return await _page(request, workspace, name, "test", test=result, **keep)


async def _no_control_plane(scope: Scope, receive: Receive, send: Send) -> None:
    # The gateway answers /endpoints/... itself; nothing else is sent through it.
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _score(
    workspace: Workspace, name: str, content: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    gateway = ScoringGateway(_no_control_plane, workspace.online_service)
    transport = httpx.ASGITransport(app=gateway)
    started = time.perf_counter()
    async with httpx.AsyncClient(transport=transport, base_url="http://studio") as client:
        response = await client.post(f"/endpoints/{name}/score", content=content, headers=headers)
    return {
        "status": response.status_code,
        "elapsed_ms": (time.perf_counter() - started) * 1000,
        "deployment": response.headers.get("azureml-model-deployment"),
        "content_type": response.headers.get("content-type", ""),
        **_answer_view(response.headers.get("content-type", ""), response.content),
    }


def _answer_view(content_type: str, payload: bytes) -> dict[str, Any]:
    """How the page shows an answer: an image, pretty JSON, text, or a binary summary.

    Every form is printed by the autoescaping template; an image goes in as a ``data:`` URI of
    one of :data:`IMAGE_TYPES` only, whatever the model claims.
    """
    kind = content_type.split(";")[0].strip().lower()
    size = len(payload)
    if kind in IMAGE_TYPES:
        encoded = base64.b64encode(payload).decode("ascii")
        return {"kind": "image", "size": size, "image": f"data:{kind};base64,{encoded}"}
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return {"kind": "binary", "size": size, "head": binascii.hexlify(payload[:64], " ")}
    if kind.endswith("json") or kind == "":
        with contextlib.suppress(json.JSONDecodeError):  # not JSON after all: shown as text
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    cut = len(text) > SHOWN_TEXT
    return {"kind": "text", "size": size, "text": text[:SHOWN_TEXT], "cut": cut}


# -- snippets -----------------------------------------------------------------------------------
def snippets(scoring_url: str, name: str, auth_mode: str) -> dict[str, str]:
    """Copy-ready ``curl`` and Python calls of the scoring URL; the key stays a variable.

    The URL is quoted for the shell and for Python: it comes from the request's Host header.
    """
    field = "accessToken" if auth_mode == "aml_token" else "primaryKey"
    fetch = f"ferry online-endpoint get-credentials -n {name} --query {field} -o tsv"
    curl = (
        f"export FERRY_ENDPOINT_KEY=$({fetch})\n"
        f"curl -sS -X POST {shlex.quote(scoring_url)} \\\n"
        '  -H "Authorization: Bearer $FERRY_ENDPOINT_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        "  --data @request.json\n"
    )
    python = (
        "import json\n"
        "import os\n"
        "import urllib.request\n"
        "\n"
        f"url = {scoring_url!r}\n"
        f'key = os.environ["FERRY_ENDPOINT_KEY"]  # export FERRY_ENDPOINT_KEY=$({fetch})\n'
        'with open("request.json", "rb") as f:\n'
        "    body = f.read()\n"
        "request = urllib.request.Request(\n"
        "    url,\n"
        "    data=body,\n"
        '    headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},\n'
        ")\n"
        "with urllib.request.urlopen(request) as response:\n"
        "    print(json.loads(response.read()))\n"
    )
    return {"curl": curl, "python": python}


# -- live metrics -------------------------------------------------------------------------------
@router.get("/studio/online-endpoints/{name}/metrics", response_class=HTMLResponse)
async def metrics(
    request: Request, name: EndpointName, _: Session, workspace: WorkspaceDep
) -> HTMLResponse:
    """The metrics table (a fragment the page polls with htmx)."""
    deployments = await run_in_threadpool(workspace.online.list_deployments, name)
    service = workspace.online_service
    rows = _live(request, workspace).figures(
        name, [d["name"] for d in deployments], service.pools()
    )
    return render(request, "online_metrics.html", rows=rows, endpoint_name=name)


def _live(request: Request, workspace: Workspace) -> LiveMetrics:
    """The app's one :class:`LiveMetrics`, made on first use."""
    live: LiveMetrics | None = getattr(request.app.state, "studio_online_metrics", None)
    if live is None:
        live = LiveMetrics(workspace.online_service.metrics)
        request.app.state.studio_online_metrics = live
    return live


# -- replica logs -------------------------------------------------------------------------------
@router.get("/studio/online-endpoints/{name}/deployments/{deployment}/logs/{file}/stream")
async def stream_log(
    request: Request,
    name: EndpointName,
    deployment: DeploymentName,
    file: str,
    _: Session,
    workspace: WorkspaceDep,
) -> Response:
    """SSE: ``lines`` events of one replica log from ``Last-Event-ID`` or ``?offset=`` (byte
    offsets), for as long as the page follows it (a replica's log has no end)."""
    await run_in_threadpool(workspace.online.deployment, name, deployment)
    path = await run_in_threadpool(log_file, workspace, name, deployment, file)
    return stream(follow_file(path, resume_offset(request), finished=_never))


def _never() -> bool:
    return False


#: What a page says after a change; the query names one (never free text a link could forge).
NOTICES = {
    "traffic": "Traffic saved.",
    "regenerated-primary": "The primary key was regenerated; the old one is refused from now on.",
    "regenerated-secondary": "The secondary key was regenerated; the old one is refused from "
    "now on.",
}


def _back(name: str, tab: str, notice: str) -> RedirectResponse:
    """Post/redirect/get: back to the tab, with a notice (a key of :data:`NOTICES`)."""
    query = httpx.QueryParams({"tab": tab, "notice": notice})
    return RedirectResponse(f"/studio/online-endpoints/{name}?{query}", status_code=303)

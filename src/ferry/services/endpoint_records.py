"""Endpoint and deployment records as the specs and views the API returns, for batch and online.

Both kinds are stored alike (the name columns beside a JSON body, and the status and times the
store keeps), so one set of functions turns a spec into a body and a record back into a spec or
a view; each service adds only what its kind shows besides (its scoring URI, online traffic).
"""

from __future__ import annotations

from typing import Any

from ferry.store.base import DeploymentRecord, EndpointRecord

__all__ = ["deployment_spec", "deployment_view", "endpoint_spec", "record_state", "stored_body"]

#: The spec's fields that are the record's key columns, not part of its body.
_NAME_FIELDS = ("name", "endpoint_name")


def stored_body(spec: dict[str, Any]) -> dict[str, Any]:
    """What the store keeps beside its name columns: the spec without its names."""
    return {k: v for k, v in spec.items() if k not in _NAME_FIELDS}


def endpoint_spec(record: EndpointRecord) -> dict[str, Any]:
    return {"name": record.name, **record.body}


def deployment_spec(record: DeploymentRecord) -> dict[str, Any]:
    return {"name": record.name, "endpoint_name": record.endpoint, **record.body}


def record_state(record: EndpointRecord | DeploymentRecord) -> dict[str, Any]:
    """The fields a view adds from the store: its provisioning state and times."""
    return {
        "provisioning_state": record.status.value,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def deployment_view(record: DeploymentRecord) -> dict[str, Any]:
    return {**deployment_spec(record), **record_state(record)}

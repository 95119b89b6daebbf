"""Constants as ``azure.ai.ml.constants`` has them: ``from ferry.constants import AssetTypes``."""

from __future__ import annotations

from ferry.client.batch_entities import BatchDeploymentOutputAction
from ferry.client.entities import InputOutputModes
from ferry.specs.assets import AssetTypes

__all__ = ["AssetTypes", "BatchDeploymentOutputAction", "InputOutputModes"]

"""The layer registry as JSON."""

from __future__ import annotations

from fastapi import APIRouter

from geo_service.api.deps import RegistryDep

router = APIRouter(tags=["Ebenen"])


@router.get("/layers", summary="All published layers and their definitions")
async def list_layers(registry: RegistryDep) -> dict[str, object]:
    layers = []
    for layer in registry:
        data = layer.model_dump(mode="json", exclude={"table"})
        data["properties"] = [p.model_dump(mode="json") for p in layer.public_properties]
        data["links"] = [
            {"rel": "collection", "href": f"/collections/{layer.id}", "type": "application/json"},
        ]
        layers.append(data)
    return {"layers": layers}

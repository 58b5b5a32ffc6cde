"""Declaring the custom entities the tests push records of."""

from typing import Any

import httpx

from tests.factories import Api

WARRANTY = {
    "type": "object",
    "properties": {
        "years": {"type": "integer", "minimum": 0},
        "terms": {"type": "string"},
        "regions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["years"],
    "additionalProperties": False,
}


async def put_declaration(api: Api, name: str, body: Any) -> httpx.Response:
    return await api.client.put(f"/api/custom-entities/{name}", json=body, headers=api.headers)


async def declare(
    api: Api, name: str = "warranty", fields: dict[str, Any] | None = None, relation: str = "many"
) -> dict[str, Any]:
    response = await put_declaration(api, name, {"fields": fields or WARRANTY, "productRelation": relation})
    assert response.status_code == 200, response.text
    declared: dict[str, Any] = response.json()
    return declared


async def record(api: Api, name: str, record_id: str) -> httpx.Response:
    return await api.get(f"/api/catalog/custom-entities/{name}/{record_id}")

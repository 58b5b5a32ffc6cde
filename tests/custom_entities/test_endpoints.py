"""Declaring custom entities (CONTRACT §3.5): a JSON Schema of an object and a product relation."""

import pytest

from tests.custom_entities.helpers import WARRANTY, declare, put_declaration
from tests.factories import Api, assert_error


class TestDeclare:
    async def test_declares_and_answers_the_declaration(self, api: Api) -> None:
        declared = await declare(api, relation="one")

        assert declared["name"] == "warranty"
        assert declared["fields"] == WARRANTY
        assert declared["productRelation"] == "one"
        response = await api.get("/api/custom-entities/warranty")
        assert response.status_code == 200, response.text
        assert response.json() == declared

    async def test_local_references_are_accepted(self, api: Api) -> None:
        fields = {
            "type": "object",
            "$defs": {"year": {"type": "integer"}},
            "properties": {"from": {"$ref": "#/$defs/year"}, "to": {"$ref": "#/$defs/year"}},
        }

        declared = await declare(api, "period", fields)

        assert declared["fields"] == fields

    async def test_a_second_put_replaces_the_declaration(self, api: Api) -> None:
        await declare(api, relation="one")
        fields = {"type": "object", "properties": {"name": {"type": "string"}}}

        replaced = await declare(api, fields=fields, relation="many")

        assert (replaced["fields"], replaced["productRelation"]) == (fields, "many")
        assert (await api.get("/api/custom-entities/warranty")).json()["fields"] == fields

    async def test_declarations_are_shared_by_integrations(self, api: Api, other_api: Api) -> None:
        await declare(api)

        response = await other_api.get("/api/custom-entities/warranty")

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "fields",
        [
            pytest.param({"type": "object", "properties": {"years": {"type": "whole"}}}, id="unknown-type"),
            pytest.param({"type": "object", "required": "years"}, id="required-not-a-list"),
            pytest.param({"type": "string"}, id="not-an-object"),
            pytest.param({"properties": {}}, id="no-type"),
            pytest.param({"type": "object", "properties": {"id": {"type": "string"}}}, id="reserved-id"),
            pytest.param(
                {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
                id="remote-ref",
            ),
            pytest.param({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}}, id="ref-to-nowhere"),
            pytest.param({"type": "object", "properties": {"a": {"pattern": "(["}}}, id="invalid-regex"),
        ],
    )
    async def test_an_invalid_schema_is_422(self, api: Api, fields: dict[str, object]) -> None:
        response = await put_declaration(api, "warranty", {"fields": fields, "productRelation": "many"})

        body = assert_error(response, 422, "INVALID_SCHEMA")
        assert body["details"][0]["path"].startswith("fields")
        assert (await api.get("/api/custom-entities/warranty")).status_code == 404

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"fields": WARRANTY, "productRelation": "some"}, id="unknown-relation"),
            pytest.param({"fields": WARRANTY}, id="no-relation"),
            pytest.param({"fields": WARRANTY, "productRelation": "one", "extra": 1}, id="unknown-field"),
        ],
    )
    async def test_an_invalid_body_is_422(self, api: Api, body: dict[str, object]) -> None:
        response = await put_declaration(api, "warranty", body)

        assert_error(response, 422, "INVALID_REQUEST")

    @pytest.mark.parametrize("name", ["Warranty", "1warranty", "war-ranty", "w" * 64])
    async def test_a_name_out_of_pattern_is_422(self, api: Api, name: str) -> None:
        response = await put_declaration(api, name, {"fields": WARRANTY, "productRelation": "one"})

        assert_error(response, 422, "INVALID_REQUEST")

    async def test_unknown_entity_is_404(self, api: Api) -> None:
        assert_error(await api.get("/api/custom-entities/warranty"), 404, "CUSTOM_ENTITY_UNKNOWN")

    async def test_a_token_is_required(self, api: Api) -> None:
        response = await api.client.put(
            "/api/custom-entities/warranty", json={"fields": WARRANTY, "productRelation": "one"}
        )

        assert_error(response, 401, "UNAUTHORIZED")

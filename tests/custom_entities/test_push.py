"""Records of custom entities (CONTRACT §3.5, §3.6, §7): pushed at the root or nested in products, checked
against the declared schema, written at commit, linked to products, deleted, and read back."""

import uuid
from typing import Any

from tests.custom_entities.helpers import declare, record
from tests.factories import Api, assert_error, product


def errors_of(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["path"]) for entry in result["records"] for e in entry["errors"]]


class TestUnknownAndInvalid:
    async def test_unknown_entity_at_the_root_and_in_a_product(self, api: Api) -> None:
        import_id = await api.start()

        result = await api.push(
            import_id,
            {
                "extensions": {"colors": [{"name": "red"}]},
                "products": [product("P1", extensions={"colors": {}})],
            },
        )

        assert errors_of(result) == [
            ("CUSTOM_ENTITY_UNKNOWN", "extensions.colors.0"),
            ("CUSTOM_ENTITY_UNKNOWN", "products.0.extensions.colors"),
        ]
        assert (await api.status(import_id))["progress"]["total"] == 0

    async def test_schema_errors_are_reported_at_their_json_path(self, api: Api) -> None:
        await declare(api)
        import_id = await api.start()

        result = await api.push(
            import_id,
            {
                "extensions": {
                    "warranty": [{"years": "two"}, {"terms": "none"}, {"years": 1, "regions": [1]}]
                },
                "products": [
                    product("P1", extensions={"warranty": {"years": -1}}),
                    product("P2", extensions={"warranty": [{"years": 1}, {"years": 2, "color": "red"}]}),
                ],
            },
        )

        assert [(e["code"], e["path"]) for e in result["records"][0]["errors"]] == [
            ("INVALID_FIELD", "extensions.warranty.0.years")
        ]
        assert errors_of(result) == [
            ("INVALID_FIELD", "extensions.warranty.0.years"),
            ("INVALID_FIELD", "extensions.warranty.1.years"),
            ("INVALID_FIELD", "extensions.warranty.2.regions.0"),
            ("INVALID_FIELD", "products.0.extensions.warranty.years"),
            ("INVALID_FIELD", "products.1.extensions.warranty.1"),
        ]
        assert result["containsErrors"]
        assert (await api.status(import_id))["progress"]["total"] == 0

    async def test_schema_errors_through_local_references(self, api: Api) -> None:
        fields = {
            "type": "object",
            "$defs": {"year": {"type": "integer"}},
            "properties": {"from": {"$ref": "#/$defs/year"}, "to": {"$ref": "#/$defs/year"}},
        }
        await declare(api, "period", fields, "none")
        import_id = await api.start()

        result = await api.push(import_id, {"extensions": {"period": [{"from": 2020, "to": "later"}]}})

        assert errors_of(result) == [("INVALID_FIELD", "extensions.period.0.to")]

    async def test_a_record_that_is_not_an_object_or_has_a_bad_id(self, api: Api) -> None:
        await declare(api)
        import_id = await api.start()

        result = await api.push(import_id, {"extensions": {"warranty": [{"id": "nope", "years": 1}]}})

        assert errors_of(result) == [("INVALID_FIELD", "extensions.warranty.0.id")]

    async def test_nested_records_need_a_product_relation(self, api: Api) -> None:
        await declare(api, relation="none")
        import_id = await api.start()

        result = await api.push(
            import_id, {"products": [product("P1", extensions={"warranty": {"years": 1}})]}
        )

        assert errors_of(result) == [("INVALID_FIELD", "products.0.extensions.warranty")]

    async def test_a_relation_of_one_takes_one_record(self, api: Api) -> None:
        await declare(api, relation="one")
        import_id = await api.start()

        result = await api.push(
            import_id, {"products": [product("P1", extensions={"warranty": [{"years": 1}, {"years": 2}]})]}
        )

        assert errors_of(result) == [("INVALID_FIELD", "products.0.extensions.warranty")]


class TestRootRecords:
    async def test_created_updated_and_deleted(self, api: Api) -> None:
        await declare(api)
        record_id = uuid.uuid4().hex

        import_id = await api.start()
        result = await api.push(
            import_id,
            {"extensions": {"warranty": [{"id": record_id, "years": 2, "terms": "bring in"}, {"years": 5}]}},
        )
        assert not result["containsErrors"], result
        assert [(r["entity"], r["path"], r["action"]) for r in result["records"]] == [
            ("warranty", "extensions.warranty.0", "create"),
            ("warranty", "extensions.warranty.1", "create"),
        ]
        assert result["records"][0]["id"] == record_id
        status = await api.commit_and_run(import_id)
        assert status["totals"] == {
            "product": 0, "media": 0, "category": 0, "tax": 0, "total": 2, "failures": 0,
        }  # fmt: skip
        response = await record(api, "warranty", record_id)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] == {"years": 2, "terms": "bring in"}
        assert (body["id"], body["entity"], body["productIds"]) == (record_id, "warranty", [])

        # An update replaces the fields it carries and keeps the others; the schema's required fields
        # need not be repeated.
        import_id = await api.start()
        result = await api.push(
            import_id, {"extensions": {"warranty": [{"id": record_id, "terms": "on site"}]}}
        )
        assert [r["action"] for r in result["records"]] == ["update"]
        await api.commit_and_run(import_id)
        assert (await record(api, "warranty", record_id)).json()["data"] == {"years": 2, "terms": "on site"}

        import_id = await api.start()
        result = await api.push(import_id, {"extensions": {"warranty": [{"id": record_id}]}}, "delete")
        assert [(r["action"], r["id"]) for r in result["records"]] == [("delete", record_id)]
        status = await api.commit_and_run(import_id)
        assert status["totals"]["failures"] == 0
        assert_error(await record(api, "warranty", record_id), 404, "CUSTOM_ENTITY_NOT_FOUND")

    async def test_an_update_is_checked_against_the_schema(self, api: Api) -> None:
        await declare(api)
        record_id = uuid.uuid4().hex
        await api.import_records({"extensions": {"warranty": [{"id": record_id, "years": 2}]}})
        import_id = await api.start()

        result = await api.push(import_id, {"extensions": {"warranty": [{"id": record_id, "years": "x"}]}})

        assert errors_of(result) == [("INVALID_FIELD", "extensions.warranty.0.years")]

    async def test_deleting_what_does_not_exist(self, api: Api) -> None:
        await declare(api)
        import_id = await api.start()

        result = await api.push(
            import_id,
            {"extensions": {"warranty": [uuid.uuid4().hex, {"name": "x"}], "colors": [uuid.uuid4().hex]}},
            "delete",
        )

        assert errors_of(result) == [
            ("CUSTOM_ENTITY_NOT_FOUND", "extensions.warranty.0"),
            ("INVALID_FIELD", "extensions.warranty.1"),
            ("CUSTOM_ENTITY_UNKNOWN", "extensions.colors.0"),
        ]

    async def test_a_record_of_another_entity_is_not_found(self, api: Api) -> None:
        await declare(api)
        await declare(api, "manual", {"type": "object"}, "many")
        manual_id = uuid.uuid4().hex
        await api.import_records({"extensions": {"manual": [{"id": manual_id, "pages": 3}]}})
        import_id = await api.start()

        updated = await api.push(import_id, {"extensions": {"warranty": [{"id": manual_id, "years": 1}]}})
        deleted = await api.push(import_id, {"extensions": {"warranty": [manual_id]}}, "delete")

        assert errors_of(updated) == [("INVALID_FIELD", "extensions.warranty.0.id")]
        assert errors_of(deleted) == [("CUSTOM_ENTITY_NOT_FOUND", "extensions.warranty.0")]
        assert_error(await record(api, "warranty", manual_id), 404, "CUSTOM_ENTITY_NOT_FOUND")
        assert (await record(api, "manual", manual_id)).json()["data"] == {"pages": 3}

    async def test_unknown_record_read(self, api: Api) -> None:
        assert_error(await record(api, "warranty", uuid.uuid4().hex), 404, "CUSTOM_ENTITY_NOT_FOUND")


class TestNestedInProducts:
    async def test_linked_to_the_product_and_shown_in_its_view(self, api: Api) -> None:
        await declare(api, relation="many")
        await declare(api, "manual", {"type": "object"}, "one")

        status = await api.import_records(
            {
                "products": [
                    product(
                        "P1",
                        extensions={
                            "warranty": [{"years": 1}, {"years": 3, "terms": "parts"}],
                            "manual": {"language": "de"},
                        },
                    )
                ]
            }
        )

        assert status["totals"] == {
            "product": 1, "media": 0, "category": 0, "tax": 1, "total": 5, "failures": 0,
        }  # fmt: skip
        view = await api.product("P1")
        extensions = view["extensions"]
        assert sorted(extensions) == ["manual", "warranty"]
        assert [{k: v for k, v in item.items() if k != "id"} for item in extensions["manual"]] == [
            {"language": "de"}
        ]
        assert sorted(item["years"] for item in extensions["warranty"]) == [1, 3]
        linked = await record(api, "warranty", extensions["warranty"][0]["id"])
        assert linked.json()["productIds"] == [view["id"]]

    async def test_a_record_named_by_id_must_exist(self, api: Api) -> None:
        await declare(api)
        record_id = uuid.uuid4().hex
        import_id = await api.start()
        result = await api.push(
            import_id,
            {
                "products": [product("P1", extensions={"warranty": [{"id": record_id}]})],
                "extensions": {"warranty": [{"id": record_id, "years": 4}]},
            },
        )
        # Records are taken in body order: the product names a record not pushed yet.
        assert errors_of(result) == [("CUSTOM_ENTITY_NOT_FOUND", "products.0.extensions.warranty.0")]
        assert [r["action"] for r in result["records"]] == [None, "create"]

    async def test_a_record_pushed_earlier_is_linked_by_id(self, api: Api) -> None:
        await declare(api)
        record_id = uuid.uuid4().hex
        import_id = await api.start()
        await api.push(import_id, {"extensions": {"warranty": [{"id": record_id, "years": 4}]}})
        result = await api.push(
            import_id, {"products": [product("P1", extensions={"warranty": [{"id": record_id}]})]}
        )
        assert not result["containsErrors"], result

        status = await api.commit_and_run(import_id)

        assert status["totals"]["failures"] == 0
        assert (await api.product("P1"))["extensions"] == {"warranty": [{"id": record_id, "years": 4}]}

    async def test_pushing_a_product_again_writes_the_same_nested_records(self, api: Api) -> None:
        await declare(api, relation="many")
        body = {"products": [product("P1", extensions={"warranty": [{"years": 1}, {"years": 2}]})]}
        import_id = await api.start()
        await api.push(import_id, body)
        await api.push(import_id, body)  # a retried push
        await api.commit_and_run(import_id)
        first = (await api.product("P1"))["extensions"]["warranty"]

        body["products"][0]["extensions"] = {"warranty": [{"years": 1, "terms": "parts"}, {"years": 2}]}
        await api.import_records(body)

        second = (await api.product("P1"))["extensions"]["warranty"]
        assert len(first) == 2
        assert sorted(item["id"] for item in second) == sorted(item["id"] for item in first)
        assert sorted((item["years"], item.get("terms")) for item in second) == [(1, "parts"), (2, None)]

    async def test_a_relation_of_one_keeps_one_link(self, api: Api) -> None:
        await declare(api, relation="one")
        await api.import_records({"products": [product("P1", extensions={"warranty": {"years": 1}})]})
        first = (await api.product("P1"))["extensions"]["warranty"]
        other_id = uuid.uuid4().hex

        await api.import_records(
            {"products": [{"productNumber": "P1", "extensions": {"warranty": {"id": other_id, "years": 2}}}]}
        )

        assert (await api.product("P1"))["extensions"]["warranty"] == [{"id": other_id, "years": 2}]
        # The record that was replaced stays, unlinked.
        assert (await record(api, "warranty", first[0]["id"])).json()["productIds"] == []

    async def test_a_relation_of_many_adds_links(self, api: Api) -> None:
        await declare(api, relation="many")
        await api.import_records({"products": [product("P1", extensions={"warranty": {"years": 1}})]})

        await api.import_records(
            {
                "products": [
                    {"productNumber": "P1", "extensions": {"warranty": {"id": uuid.uuid4().hex, "years": 2}}}
                ]
            }
        )

        assert sorted(i["years"] for i in (await api.product("P1"))["extensions"]["warranty"]) == [1, 2]

    async def test_deleting_a_record_removes_its_links(self, api: Api) -> None:
        await declare(api)
        await api.import_records({"products": [product("P1", extensions={"warranty": {"years": 1}})]})
        record_id = (await api.product("P1"))["extensions"]["warranty"][0]["id"]

        import_id = await api.start()
        await api.push(import_id, {"extensions": {"warranty": [record_id]}}, "delete")
        await api.commit_and_run(import_id)

        assert (await api.product("P1"))["extensions"] == {}

    async def test_a_failed_product_undoes_its_nested_records(self, api: Api) -> None:
        await declare(api)
        import_id = await api.start()
        result = await api.push(
            import_id,
            {
                "products": [
                    product("P1", id=uuid.uuid4().hex, extensions={"warranty": {"years": 1}}),
                    product("P2"),
                ]
            },
        )
        # A nested record without an id gets one that follows from its product, entity and position.
        nested_id = uuid.uuid5(uuid.UUID(result["records"][0]["id"]), "warranty\x1f0").hex
        # Another import takes the product number in the meantime (P1 has an id of its own: no adoption).
        await api.import_records({"products": [product("P1", name="Taken")]})

        status = await api.commit_and_run(import_id)

        assert status["totals"]["failures"] == 1
        assert status["failures"][0]["details"][0]["code"] == "DUPLICATE_PRODUCT_NUMBER"
        assert (await api.product("P1"))["extensions"] == {}
        assert_error(await record(api, "warranty", nested_id), 404, "CUSTOM_ENTITY_NOT_FOUND")

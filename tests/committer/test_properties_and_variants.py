"""Product properties by group and option name (created when missing, added on update, removed by
unassign), and variants managed by the client: a product with a parent and the options that set it apart,
taking its parent's name, tax and prices unless it has its own."""

from typing import Any

from sqlalchemy import func, select

from catalog_import.models import PropertyGroup, PropertyOption
from tests.factories import Api, product


def options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"group": group, "option": option} for group, option in pairs]


def shown(view: dict[str, Any], field: str) -> list[tuple[str, str]]:
    return [(item["group"], item["option"]) for item in view[field]]


class TestProperties:
    async def test_groups_and_options_are_created_once_and_linked(self, api: Api) -> None:
        status = await api.import_records(
            {
                "products": [
                    product("SHIRT", properties=options(("Material", "Cotton"), ("Fit", "Slim"))),
                    product("SOCK", properties=options(("Material", "Cotton"), ("Material", "Wool"))),
                ]
            }
        )

        assert status["failures"] == []
        assert shown(await api.product("SHIRT"), "properties") == [("Fit", "Slim"), ("Material", "Cotton")]
        assert shown(await api.product("SOCK"), "properties") == [
            ("Material", "Cotton"),
            ("Material", "Wool"),
        ]
        async with api.session_factory() as session:
            assert await session.scalar(select(func.count()).select_from(PropertyGroup)) == 2
            assert await session.scalar(select(func.count()).select_from(PropertyOption)) == 3

    async def test_update_adds_and_unassign_removes(self, api: Api) -> None:
        await api.import_records({"products": [product("SHIRT", properties=options(("Material", "Cotton")))]})
        await api.import_records(
            {"products": [{"productNumber": "SHIRT", "properties": options(("Color", "Blue"))}]}
        )
        assert shown(await api.product("SHIRT"), "properties") == [("Color", "Blue"), ("Material", "Cotton")]

        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {"products": [{"productNumber": "SHIRT", "properties": options(("Material", "Cotton"))}]},
            "unassign",
        )
        assert not pushed["containsErrors"], pushed
        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert shown(await api.product("SHIRT"), "properties") == [("Color", "Blue")]

    async def test_property_names_are_validated(self, api: Api) -> None:
        import_id = await api.start()
        pushed = await api.push(import_id, {"products": [product("BAD", properties=[{"group": "Material"}])]})

        (record,) = pushed["records"]
        assert [(e["code"], e["path"]) for e in record["errors"]] == [
            ("INVALID_FIELD", "products.0.properties.0.option")
        ]


class TestExplicitVariants:
    async def test_variant_takes_its_parents_fields_and_carries_its_options(self, api: Api) -> None:
        status = await api.import_records(
            {
                "products": [
                    {
                        "productNumber": "TEE.S",
                        "parent": {"productNumber": "TEE"},
                        "options": options(("Size", "S")),
                        "stock": 3,
                    },
                    {
                        "productNumber": "TEE.M",
                        "parent": {"productNumber": "TEE"},
                        "options": options(("Size", "M")),
                        "name": "Tee, size M",
                        "prices": [{"currency": "EUR", "gross": 25, "net": 21}],
                    },
                    product("TEE", name="Tee"),
                ]
            },
            deferReferences=True,
        )

        assert (status["status"], status["failures"]) == ("done", [])
        parent = await api.product("TEE")
        small, medium = await api.product("TEE.S"), await api.product("TEE.M")
        assert sorted(parent["variantIds"]) == sorted([small["id"], medium["id"]])
        assert small["parentId"] == medium["parentId"] == parent["id"]
        assert (small["name"], small["stock"], small["tax"]) == ("Tee", 3, parent["tax"])
        assert small["prices"] == parent["prices"]
        assert shown(small, "options") == [("Size", "S")]
        assert medium["name"] == "Tee, size M"
        assert [(p["currency"], p["gross"]) for p in medium["prices"]] == [("EUR", 25)]
        assert shown(parent, "options") == []

    async def test_options_given_again_replace_the_variants_options(self, api: Api) -> None:
        await api.import_records({"products": [product("CAP")]})
        await api.import_records(
            {
                "products": [
                    {
                        "productNumber": "CAP.1",
                        "parent": {"productNumber": "CAP"},
                        "options": options(("Color", "Red"), ("Size", "L")),
                    }
                ]
            }
        )

        await api.import_records(
            {"products": [{"productNumber": "CAP.1", "options": options(("Color", "Blue"), ("Size", "L"))}]}
        )

        assert shown(await api.product("CAP.1"), "options") == [("Color", "Blue"), ("Size", "L")]

    async def test_unknown_parent_and_own_parent_are_rejected(self, api: Api) -> None:
        await api.import_records({"products": [product("SELF")]})
        import_id = await api.start()

        pushed = await api.push(
            import_id,
            {
                "products": [
                    {"productNumber": "ORPHAN", "parent": {"productNumber": "NOBODY"}},
                    {"productNumber": "SELF", "parent": {"productNumber": "SELF"}},
                ]
            },
        )

        assert [[(e["code"], e["path"]) for e in r["errors"]] for r in pushed["records"]] == [
            [("PRODUCT_NOT_FOUND", "products.0.parent")],
            [("INVALID_FIELD", "products.1.parent")],
        ]

    async def test_a_variant_cannot_be_a_parent(self, api: Api) -> None:
        await api.import_records({"products": [product("BASE")]})
        await api.import_records(
            {"products": [{"productNumber": "BASE.1", "parent": {"productNumber": "BASE"}}]}
        )

        status = await api.import_records(
            {"products": [{"productNumber": "BASE.1.1", "parent": {"productNumber": "BASE.1"}}]}
        )

        (failure,) = status["failures"]
        (detail,) = failure["details"]
        assert (failure["path"], detail["code"], detail["path"]) == (
            "products.0",
            "INVALID_FIELD",
            "products.0",
        )
        assert "BASE.1 is a variant" in detail["message"]

    async def test_deleting_a_parent_deletes_its_variants(self, api: Api) -> None:
        await api.import_records({"products": [product("GONE")]})
        await api.import_records(
            {"products": [{"productNumber": "GONE.1", "parent": {"productNumber": "GONE"}}]}
        )

        import_id = await api.start()
        await api.push(import_id, {"products": [{"productNumber": "GONE"}]}, "delete")
        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        response = await api.get("/api/catalog/products", params={"productNumber": "GONE.1"})
        assert response.json()["items"] == []


def configurator(**values: list[str]) -> list[dict[str, str]]:
    return [{"property": group, "value": value} for group, listed in values.items() for value in listed]


async def variants_of(api: Api, number: str) -> dict[str, dict[str, Any]]:
    """The variants of a product by product number."""
    parent = await api.product(number)
    found = {}
    for variant_id in parent["variantIds"]:
        view = (await api.get(f"/api/catalog/products/{variant_id}")).json()
        found[view["productNumber"]] = view
    return found


class TestGeneratedVariants:
    async def test_one_variant_per_combination_numbered_in_order(self, api: Api) -> None:
        status = await api.import_records(
            {
                "products": [
                    product(
                        "GEN",
                        name="Shirt",
                        stock=4,
                        variants=configurator(Size=["S", "M"], Color=["Red", "Blue"]),
                    )
                ]
            }
        )

        assert (status["status"], status["failures"], status["totals"]["product"]) == ("done", [], 5)
        variants = await variants_of(api, "GEN")
        assert {number: shown(view, "options") for number, view in variants.items()} == {
            "GEN.1": [("Color", "Red"), ("Size", "S")],
            "GEN.2": [("Color", "Blue"), ("Size", "S")],
            "GEN.3": [("Color", "Red"), ("Size", "M")],
            "GEN.4": [("Color", "Blue"), ("Size", "M")],
        }
        parent = await api.product("GEN")
        for view in variants.values():
            assert (view["name"], view["stock"], view["parentId"]) == ("Shirt", 4, parent["id"])
            assert view["prices"] == parent["prices"] and view["tax"] == parent["tax"]

    async def test_overrides_per_combination(self, api: Api) -> None:
        status = await api.import_records(
            {
                "products": [
                    product(
                        "OVR",
                        variants=configurator(Size=["S", "M"]),
                        variantOverrides=[
                            {
                                "options": options(("Size", "M")),
                                "productNumber": "OVR-MEDIUM",
                                "stock": 9,
                                "prices": [{"currency": "EUR", "gross": 30, "net": 25}],
                            }
                        ],
                    )
                ]
            }
        )

        assert status["failures"] == []
        variants = await variants_of(api, "OVR")
        assert sorted(variants) == ["OVR-MEDIUM", "OVR.1"]
        medium = variants["OVR-MEDIUM"]
        assert (medium["stock"], [(p["currency"], p["gross"]) for p in medium["prices"]]) == (
            9,
            [("EUR", 30)],
        )

    async def test_reimport_updates_the_same_variants_and_removes_dropped_ones(self, api: Api) -> None:
        overrides = [{"options": options(("Size", "L")), "productNumber": "RE-LARGE"}]
        first = product("RE", variants=configurator(Size=["S", "M", "L"]), variantOverrides=overrides)
        await api.import_records({"products": [first]})
        before = {number: view["id"] for number, view in (await variants_of(api, "RE")).items()}

        status = await api.import_records(
            {
                "products": [
                    {"productNumber": "RE", "name": "Renamed", "variants": configurator(Size=["S", "L"])}
                ]
            }
        )

        assert status["failures"] == []
        after = await variants_of(api, "RE")
        assert {number: view["id"] for number, view in after.items()} == {
            "RE.1": before["RE.1"],
            "RE-LARGE": before["RE-LARGE"],
        }
        assert {view["name"] for view in after.values()} == {"Renamed"}
        response = await api.get("/api/catalog/products", params={"productNumber": "RE.2"})
        assert response.json()["items"] == []

    async def test_pushing_the_parent_twice_in_one_import_makes_no_duplicates(self, api: Api) -> None:
        body = {"products": [product("TWICE", variants=configurator(Size=["S", "M"]))]}
        import_id = await api.start()
        first = await api.push(import_id, body)
        second = await api.push(import_id, body)
        status = await api.commit_and_run(import_id)

        assert [r["id"] for r in first["records"]] == [r["id"] for r in second["records"]]
        assert status["failures"] == []
        assert sorted(await variants_of(api, "TWICE")) == ["TWICE.1", "TWICE.2"]

    async def test_override_of_no_combination_is_rejected(self, api: Api) -> None:
        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {
                "products": [
                    product(
                        "BADOVR",
                        variants=configurator(Size=["S"]),
                        variantOverrides=[{"options": options(("Size", "XL")), "stock": 1}],
                    )
                ]
            },
        )

        (record,) = pushed["records"]
        assert [(e["code"], e["path"]) for e in record["errors"]] == [
            ("INVALID_FIELD", "products.0.variantOverrides.0.options")
        ]

    async def test_too_many_combinations_are_refused_without_generating_them(self, api: Api) -> None:
        values = {group: [f"{group}{n}" for n in range(100)] for group in ("A", "B", "C", "D", "E")}
        import_id = await api.start()

        pushed = await api.push(import_id, {"products": [product("HUGE", variants=configurator(**values))]})

        (record,) = pushed["records"]
        assert [(e["code"], e["path"]) for e in record["errors"]] == [
            ("INVALID_FIELD", "products.0.variants")
        ]
        assert "10000000000 variants" in record["errors"][0]["message"]

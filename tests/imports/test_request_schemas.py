"""The published request schemas held to the server: every example in the OpenAPI document validates against
its own schema, and a set of push bodies — the design's Appendix A product among them — is accepted by a
JSON Schema validator reading the committed document exactly when the server accepts it (shape errors
only: whether a tax or a category exists is the server's alone to know)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from catalog_import.imports.records import APPENDIX_A_PRODUCT
from tests.factories import Api

DOCUMENT = json.loads((Path(__file__).parents[2] / "openapi" / "openapi.json").read_text())
BASE = "urn:catalog-import:openapi"
REGISTRY: Registry = Registry().with_resource(BASE, Resource.from_contents(DOCUMENT, DRAFT202012))
SHAPE_CODES = {"INVALID_FIELD"}
SOME_ID = "018a6b222b5a734d956fb03dda765bf8"


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema``, which may refer to the document's components."""
    return Draft202012Validator({"$id": f"{BASE}-part", **schema, "$defs": {}}, registry=REGISTRY)


def component(name: str) -> Draft202012Validator:
    return validator({"$ref": f"{BASE}#/components/schemas/{name}"})


def schemas_with_examples(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("examples"), list) and (
            "type" in node or "anyOf" in node or "properties" in node
        ):
            yield where, node
        for key, value in node.items():
            yield from schemas_with_examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schemas_with_examples(value, f"{where}/{index}")


def absolute_refs(node: Any) -> Any:
    """``node`` with its ``#/components/…`` references made absolute, to validate it out of place."""
    if isinstance(node, dict):
        return {
            key: (f"{BASE}{value}" if key == "$ref" and value.startswith("#/") else absolute_refs(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [absolute_refs(value) for value in node]
    return node


EXAMPLES = list(schemas_with_examples(DOCUMENT["components"]["schemas"], "#/components/schemas"))


def test_the_record_schemas_carry_examples() -> None:
    documented = {where.split("/")[3] for where, _ in EXAMPLES}

    assert {"ProductRecord", "TaxRecord", "CategoryRecord", "MediaRecord", "CustomRecord"} <= documented
    [product_example] = DOCUMENT["components"]["schemas"]["ProductRecord"]["examples"]
    assert product_example == APPENDIX_A_PRODUCT


@pytest.mark.parametrize(("where", "schema"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_every_example_validates_against_its_schema(where: str, schema: dict[str, Any]) -> None:
    checked = validator(absolute_refs({key: value for key, value in schema.items() if key != "examples"}))
    for example in schema["examples"]:
        errors = [error.message for error in checked.iter_errors(example)]
        assert errors == [], (where, example)


def named(number: str, **fields: Any) -> dict[str, Any]:
    """A product that can be created, naming a tax the test pushes along."""
    return {
        "productNumber": number,
        "name": f"Product {number}",
        "tax": {"name": "Reduced rate 2"},
        "prices": [{"currency": "EUR", "gross": 15, "net": 10}],
        **fields,
    }


# (a name, a product record): accepted or refused for its shape alike by the schema and by the server.
PRODUCTS: list[tuple[str, dict[str, Any]]] = [
    ("appendix-a", APPENDIX_A_PRODUCT),
    ("numeric-string-stock", named("S1", stock="100")),
    ("negative-stock", named("S2", stock=-5)),
    ("stock-too-large", named("S3", stock=99_999_999_999)),
    ("stock-smallest", named("S4", stock=-(2**31))),
    ("stock-fraction", named("S5", stock=1.5)),
    ("stock-word", named("S6", stock="many")),
    ("stock-null", named("S7", stock=None)),
    ("name-null", named("S8", name=None)),
    ("name-too-long", named("S9", name="x" * 256)),
    ("empty-number", named("")),
    ("unknown-field", named("S10", colour="red")),
    ("snake-case-field", {**named("S11"), "product_number": "S11"}),
    ("gross-string", named("S12", prices=[{"currency": "EUR", "gross": "15.50", "net": "10"}])),
    ("gross-negative", named("S13", prices=[{"currency": "EUR", "gross": -1, "net": 1}])),
    ("gross-too-large", named("S14", prices=[{"currency": "EUR", "gross": 1e16, "net": 1}])),
    ("gross-word", named("S15", prices=[{"currency": "EUR", "gross": "much", "net": 1}])),
    (
        "currency-by-id",
        named("S16", prices=[{"currency": {"id": "018a6b222b5a734d956fb03dda765bf8"}, "gross": 1, "net": 1}]),
    ),
    ("currency-four-letters", named("S17", prices=[{"currency": "EURO", "gross": 1, "net": 1}])),
    ("linked-string", named("S18", prices=[{"currency": "EUR", "gross": 1, "net": 1, "linked": "no"}])),
    ("price-without-net", named("S19", prices=[{"currency": "EUR", "gross": 1}])),
    ("active-string", named("S20", active="yes")),
    ("category-without-path-or-id", named("S21", categories=[{}])),
    ("category-empty-path", named("S22", categories=[{"path": []}])),
    ("media-without-url-or-id", named("S23", media=[{"title": "lonely"}])),
    ("media-not-http", named("S24", media=[{"url": "ftp://files.example.com/a.png"}])),
    (
        "filename-with-slash",
        named("S25", media=[{"id": "018a6b222b5a734d956fb03dda765bf8", "filename": "a/b.png"}]),
    ),
    ("id-malformed", named("S26", id="not-a-uuid")),
    ("record-without-identity", {"name": "Nameless"}),
    (
        "variants",
        named("S27", variants=[{"property": "Size", "value": "S"}, {"property": "Size", "value": "M"}]),
    ),
    ("variant-without-value", named("S28", variants=[{"property": "Size"}])),
    ("properties", named("S29", properties=[{"group": "Material", "option": "Cotton"}])),
    ("custom-fields", named("S30", customFields={"colour": "red", "sizes": [1, 2]})),
    ("custom-fields-list", named("S31", customFields=[1, 2])),
]


@pytest.mark.parametrize(("name", "record"), PRODUCTS, ids=[name for name, _ in PRODUCTS])
async def test_a_product_is_valid_for_the_schema_exactly_when_the_server_accepts_its_shape(
    api: Api, name: str, record: dict[str, Any]
) -> None:
    body = {"taxes": [{"name": "Reduced rate 2", "taxRate": 7}], "products": [record]}
    schema_errors = [error.message for error in component("RecordBatch").iter_errors(body)]

    import_id = await api.start()
    result = await api.push(import_id, body)
    [tax, product] = result["records"]
    shape_errors = [error for error in product["errors"] if error["code"] in SHAPE_CODES]

    assert tax["errors"] == []
    assert (schema_errors == []) == (shape_errors == []), (schema_errors, shape_errors)


def test_the_appendix_a_product_is_valid() -> None:
    assert [error.message for error in component("ProductRecord").iter_errors(APPENDIX_A_PRODUCT)] == []

"""The design's Appendix A product, end to end through the HTTP API (its picture served on loopback)."""

from catalog_import.imports.records import APPENDIX_A_PRODUCT
from tests.factories import Api
from tests.images import IMAGES


async def test_appendix_a_product_is_imported(api: Api) -> None:
    import_id = await api.start("product-import-20260712")
    result = await api.push(
        import_id,
        {
            "taxes": [{"name": "Reduced rate 2", "taxRate": 7}],
            "categories": [
                {"name": "Home"},
                {"name": "Category 2", "parent": ["Home"]},
                {"name": "Category 3", "parent": ["Home", "Category 2"]},
            ],
            "products": [
                {
                    **APPENDIX_A_PRODUCT,
                    "media": [{**APPENDIX_A_PRODUCT["media"][0], "url": f"{IMAGES}/pommes.jpg"}],
                }
            ],
        },
    )
    assert result["containsErrors"] is False
    status = await api.commit_and_run(import_id)
    assert status["status"] == "done"
    assert status["totals"] == {"product": 1, "media": 1, "category": 3, "tax": 1, "total": 6, "failures": 0}
    product = await api.product("COOLPROD1")
    assert product["id"] == "018a6b222b5a734d956fb03dda765bf8"
    assert product["stock"] == 100
    assert product["tax"]["name"] == "Reduced rate 2"
    assert product["prices"] == [{"currency": "EUR", "gross": 15, "net": 10, "linked": False}]
    assert product["categories"][0]["path"] == ["Home", "Category 2", "Category 3"]
    assert product["media"][0]["title"] == "pommes"

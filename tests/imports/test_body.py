"""The bound on what one push may stage, read off the body as pushed (pure: no server)."""

from typing import Any

import pytest

from catalog_import.imports.body import BatchTooLarge, count_staged_records

SIZES = [{"property": "Size", "value": size} for size in ("S", "M", "L")]
COLOURS = [{"property": "Colour", "value": colour} for colour in ("Red", "Blue")]


def staged(body: dict[str, Any], limit: int = 100_000) -> int:
    return count_staged_records(list(body.items()), limit)


class TestCountStagedRecords:
    def test_root_records_of_every_collection_count(self) -> None:
        body = {"taxes": [{}, {}], "media": [{}], "extensions": {"brand": [{}, {}, {}]}}

        assert staged(body) == 6

    def test_a_configurator_counts_its_combinations(self) -> None:
        assert staged({"products": [{"variants": SIZES + COLOURS}]}) == 1 + 6

    def test_a_value_listed_twice_counts_once(self) -> None:
        assert staged({"products": [{"variants": SIZES + SIZES[:1]}]}) == 1 + 3

    def test_nested_media_tax_and_custom_records_count(self) -> None:
        product = {
            "tax": {"name": "Reduced", "taxRate": 7},
            "media": [{"url": "https://cdn.example.com/a.png"}, {"id": "x"}],
            "variants": SIZES,
            "variantOverrides": [{"options": [], "media": [{"url": "https://cdn.example.com/b.png"}]}],
            "extensions": {"brand": {"name": "Acme"}, "tags": [{}, {}]},
        }

        assert staged({"products": [product]}) == 1 + 1 + 2 + 3 + 1 + 3

    def test_a_tax_named_without_a_rate_creates_nothing(self) -> None:
        assert staged({"products": [{"tax": {"name": "Reduced"}}]}) == 1

    def test_a_configurator_over_the_variant_limit_adds_nothing(self) -> None:
        # Refused as a field error of its record, which then stages nothing.
        huge = [{"property": f"P{p}", "value": f"V{v}"} for p in range(4) for v in range(10)]

        assert staged({"products": [{"variants": huge}]}) == 1

    @pytest.mark.parametrize(
        "product",
        [
            "not an object",
            {"variants": "S, M"},
            {"variants": [1, None, {"property": 2, "value": "S"}]},
            {"media": {"url": "x"}, "variantOverrides": ["x"], "extensions": ["x"]},
        ],
    )
    def test_malformed_parts_count_as_nothing(self, product: Any) -> None:
        assert staged({"products": [product]}) == 1

    def test_over_the_limit_the_push_is_refused_naming_the_limit(self) -> None:
        with pytest.raises(BatchTooLarge) as refused:
            staged({"products": [{"variants": SIZES + COLOURS}] * 2}, limit=13)

        assert refused.value.message.startswith("The push would stage 14 records")
        assert "at most 13" in refused.value.message

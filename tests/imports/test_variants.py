"""The combinations of a configurator: properties in the order they first appear, the first varying
slowest, repeated values once, and the count known without making them."""

import pytest

from catalog_import.imports.records import VariantOption
from catalog_import.imports.variants import MAX_VARIANTS, variant_combinations, variant_count


def values(*pairs: tuple[str, str]) -> list[VariantOption]:
    return [VariantOption(property=group, value=value) for group, value in pairs]


def test_contract_example_gives_small_red_then_medium_red() -> None:
    configurator = values(("Size", "S"), ("Size", "M"), ("Color", "Red"))

    assert variant_combinations(configurator) == [
        ["Size\x1fS", "Color\x1fRed"],
        ["Size\x1fM", "Color\x1fRed"],
    ]


def test_interleaved_and_repeated_values() -> None:
    configurator = values(("Color", "Red"), ("Size", "S"), ("Color", "Blue"), ("Size", "S"), ("Size", "M"))

    assert variant_combinations(configurator) == [
        ["Color\x1fRed", "Size\x1fS"],
        ["Color\x1fRed", "Size\x1fM"],
        ["Color\x1fBlue", "Size\x1fS"],
        ["Color\x1fBlue", "Size\x1fM"],
    ]


def test_count_is_known_before_combinations_are_made() -> None:
    configurator = values(*[(group, str(n)) for group in "ABCDE" for n in range(100)])

    assert variant_count(configurator) == 100**5
    with pytest.raises(ValueError, match=str(MAX_VARIANTS)):
        variant_combinations(configurator)

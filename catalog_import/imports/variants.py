"""Variants generated from a product's configurator (``variants: [{"property", "value"}]``): the option
combinations, in the order the contract numbers them."""

import itertools
import math
from collections.abc import Iterable
from typing import Any

from catalog_import.imports.records import VariantOption
from catalog_import.resolvers.category import path_key

MAX_VARIANTS = 1000
"""Variants generated from one product's configurator at most."""

INHERITED_FIELDS = ("name", "description", "active", "stock", "taxId", "prices", "customFields")
"""The fields of a product record its generated variants take."""


def variant_groups(values: Iterable[VariantOption]) -> list[list[str]]:
    """A configurator's values as ``group␟option`` keys grouped by property, in the order properties first
    appear."""
    groups: dict[str, list[str]] = {}
    for value in values:
        keys = groups.setdefault(value.property, [])
        key = path_key([value.property, value.value])
        if key not in keys:
            keys.append(key)
    return list(groups.values())


def variant_count(values: Iterable[VariantOption]) -> int:
    return math.prod(len(keys) for keys in variant_groups(values))


def pushed_variant_count(values: Any) -> int:
    """``variant_count`` of a configurator as it was pushed, before it is validated; entries that are not
    ``{"property", "value"}`` strings are left out (they make the record invalid anyway)."""
    if not isinstance(values, list):
        return 0
    options = [
        VariantOption.model_construct(property=value["property"], value=value["value"])
        for value in values
        if isinstance(value, dict)
        and isinstance(value.get("property"), str)
        and isinstance(value.get("value"), str)
    ]
    return variant_count(options) if options else 0


def variant_combinations(values: Iterable[VariantOption]) -> list[list[str]]:
    """The option combinations of a configurator (at most ``MAX_VARIANTS``), the first property varying
    slowest."""
    groups = variant_groups(values)
    if math.prod(len(keys) for keys in groups) > MAX_VARIANTS:
        raise ValueError(f"more than {MAX_VARIANTS} variants")
    return [list(combination) for combination in itertools.product(*groups)]

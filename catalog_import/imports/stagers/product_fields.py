"""Fields a product and the variants generated from it read alike: prices by currency, property options
as keys, the categories it asks the lookups for."""

import uuid
from collections.abc import Iterable

from catalog_import.imports.records import CategoryRef, OptionRef, ProductRecord, VariantOverride
from catalog_import.imports.stagers.base import RecordOutcome, Staging
from catalog_import.models.payloads import PricePayload
from catalog_import.problems import error
from catalog_import.resolvers.category import path_key


def prices(
    staging: Staging, outcome: RecordOutcome, record: ProductRecord | VariantOverride, path: str
) -> list[PricePayload]:
    """The record's prices, one per currency (named by ISO code or id)."""
    currencies = staging.lookups.currency
    payload: list[PricePayload] = []
    seen: set[uuid.UUID] = set()
    for index, price in enumerate(record.prices or ()):
        price_path = f"{path}.prices.{index}.currency"
        if isinstance(price.currency, str):
            known = currencies.by_key(price.currency.upper())
            what = price.currency
        else:
            known = currencies.by_id(price.currency.id)
            what = f"ID {price.currency.id.hex}"
        if known is None:
            outcome.problems.append(error("CURRENCY_NOT_FOUND", f"Currency {what} not found", price_path))
            continue
        if known.id in seen:
            outcome.problems.append(
                error("INVALID_FIELD", f"A second price in currency {known.key}", price_path)
            )
            continue
        seen.add(known.id)
        payload.append(
            {
                "currencyId": known.id.hex,
                "gross": str(price.gross),
                "net": str(price.net),
                "linked": price.linked,
            }
        )
    return payload


def option_keys(options: Iterable[OptionRef]) -> list[str]:
    """Property options as ``group␟option`` keys (names hold no control characters), without repeats."""
    return list(dict.fromkeys(path_key([option.group, option.option]) for option in options))


def want_categories(staging: Staging, categories: Iterable[CategoryRef] | None) -> None:
    for category in categories or ():
        staging.lookups.category.want_id(category.id)
        staging.lookups.category.want_key(path_key(category.path) if category.path else None)

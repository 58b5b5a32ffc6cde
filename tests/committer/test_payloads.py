"""The staged payloads are declared once (``models/payloads.py``): the stagers build them as typed
dictionaries, and every key the writers' SQL reads from a payload is one of the declared keys of the
payloads that writer reads."""

import inspect
import re
from types import ModuleType
from typing import Any

import pytest

from catalog_import.committer import planner
from catalog_import.committer.writers import WRITERS, category, custom, deletes, media, product, tax, unassign
from catalog_import.committer.writers import base as writers_base
from catalog_import.models.payloads import (
    PAYLOADS,
    CategoryPayload,
    CustomRecordPayload,
    MediaPayload,
    PricePayload,
    ProductPayload,
    ReferenceField,
    TaxPayload,
    UnassignPayload,
)

# ``payload->>'key'``, ``payload->'key'``, ``payload ? 'key'``, and an element of ``prices`` read as
# ``price->>'key'``.
READ_KEY = re.compile(r"\b(?:payload|price)\s*(?:->>|->|\?)\s*'(\w+)'")
READ_ANY_KEY = re.compile(r"\bpayload\s*\?\|\s*ARRAY\[([^\]]*)\]")

# The payloads each writer module reads: its own entity's, and those of the records it joins.
READS: dict[ModuleType, tuple[type[Any], ...]] = {
    tax: (TaxPayload,),
    category: (CategoryPayload,),
    media: (MediaPayload,),
    product: (ProductPayload, PricePayload, CategoryPayload),  # categories listing the batch's products
    custom: (CustomRecordPayload, ProductPayload),  # the product's links to its custom records
    unassign: (UnassignPayload,),
    deletes: (),
    writers_base: (),
    planner: (CategoryPayload,),  # categories that list products
}


def keys_read(module: ModuleType) -> set[str]:
    source = inspect.getsource(module)
    keys = set(READ_KEY.findall(source))
    for listed in READ_ANY_KEY.findall(source):
        keys.update(re.findall(r"'(\w+)'", listed))
    return keys


class TestPayloads:
    @pytest.mark.parametrize("module", list(READS), ids=lambda module: module.__name__.rsplit(".", 1)[-1])
    def test_a_writer_reads_only_declared_keys(self, module: ModuleType) -> None:
        declared = {key for payload in READS[module] for key in payload.__annotations__}

        assert keys_read(module) <= declared

    def test_every_writer_has_a_declared_payload(self) -> None:
        assert set(WRITERS) == set(PAYLOADS)

    def test_every_writer_module_is_checked(self) -> None:
        modules = {inspect.getmodule(writer) for writer in WRITERS.values()}

        assert modules <= set(READS)

    def test_the_check_finds_keys(self) -> None:
        assert {"taxId", "prices", "categoryIds", "adoptByNumber", "currencyId"} <= keys_read(product)
        assert {"folderKey", "folderId"} <= keys_read(media)

    def test_pending_references_resolve_into_id_fields_of_the_payloads(self) -> None:
        fields = set(ReferenceField.__args__)
        declared = set(ProductPayload.__annotations__) | set(CategoryPayload.__annotations__)

        assert fields <= declared
        assert all(field.endswith(("Id", "Ids")) for field in fields)

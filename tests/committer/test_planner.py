"""How a committed import is cut into batches: the media records of a level apart from its other records,
in batches small enough to settle as their downloads end, but not so small that a level of many media pays
for thousands of transactions."""

import uuid

import pytest
from sqlalchemy import select

from catalog_import.committer.planner import prepare_import
from catalog_import.models import ImportBatch
from tests.factories import Api
from tests.images import IMAGES


async def batches_of(
    api: Api, media: int, *, batch_size: int, media_batch_size: int
) -> list[tuple[bool, int]]:
    """(media, records) of each batch of an import of 3 taxes and ``media`` root media, once prepared."""
    import_id = await api.start()
    taxes = [{"name": f"Planner tax {n}", "taxRate": n} for n in range(3)]
    await api.push(
        import_id, {"taxes": taxes, "media": [{"url": f"{IMAGES}/p-{n}.jpg"} for n in range(media)]}
    )
    await api.commit(import_id)
    async with api.session_factory() as session, session.begin():
        assert await prepare_import(session, uuid.UUID(import_id), batch_size, media_batch_size)
        batches = await session.scalars(
            select(ImportBatch).where(ImportBatch.import_id == uuid.UUID(import_id)).order_by(ImportBatch.id)
        )
        return sorted(((bool(b.media), b.records) for b in batches), key=lambda batch: batch[0])


@pytest.mark.parametrize(
    ("media", "media_batch_size", "media_batches"),
    [
        # Few media: batches of media_batch_size.
        (40, 20, [20, 20]),
        (45, 20, [20, 20, 5]),
        # Many media: about a hundred batches, of a hundredth of them each.
        (250, 2, [3] * 83 + [1]),
    ],
)
async def test_media_are_cut_apart_from_the_other_records_of_their_level(
    api: Api, media: int, media_batch_size: int, media_batches: list[int]
) -> None:
    batches = await batches_of(api, media, batch_size=50, media_batch_size=media_batch_size)
    assert [records for is_media, records in batches if not is_media] == [3]
    assert sorted((records for is_media, records in batches if is_media), reverse=True) == media_batches


async def test_media_batches_are_never_larger_than_the_other_batches(api: Api) -> None:
    batches = await batches_of(api, 250, batch_size=2, media_batch_size=1)
    # Batches are cut by one grouped INSERT: their sizes are what counts, not the order the groups come in.
    assert sorted((records for is_media, records in batches if not is_media), reverse=True) == [2, 1]
    assert [records for is_media, records in batches if is_media] == [2] * 125

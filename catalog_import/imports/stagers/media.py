"""Media: identified by id or by source URL; a create needs the URL (downloaded at commit). Also the media
a product or variant lists, created on the way when a URL names none yet."""

from catalog_import.ids import new_id
from catalog_import.imports.records import MediaFields, MediaRecord, MediaRef, ProductRecord, VariantOverride
from catalog_import.imports.stagers.base import ModelStager, RecordOutcome, StagedRecord, Staging
from catalog_import.models import Operation, RecordAction
from catalog_import.models.payloads import MediaPayload
from catalog_import.resolvers.base import Reference, not_found
from catalog_import.resolvers.category import path_key


class MediaStager(ModelStager[MediaRecord]):
    entity = "media"
    model = MediaRecord

    def want(self, staging: Staging, record: MediaRecord) -> None:
        want_media(staging, record)

    def stage(self, staging: Staging, record: MediaRecord, path: str) -> RecordOutcome:
        outcome = staging.begin(self.entity, path)
        payload = media_payload(staging, outcome, record, path)
        if payload is None:
            return staging.finish(outcome)
        lookup = staging.lookups.media
        identity = staging.identify(
            outcome,
            lookup,
            record.id,
            record.url,
            "url",
            lambda: [] if record.url else ["url"],
            "DUPLICATE_MEDIA_URL",
        )
        if identity is not None:
            root = staging.root(outcome, identity, identity.key_or_existing(record.url), payload)
            staging.settle(outcome, lookup, root)
        return staging.finish(outcome)


def want_media(staging: Staging, record: MediaRecord | MediaRef) -> None:
    staging.lookups.media.want_id(record.id)
    staging.lookups.media.want_key(record.url)
    staging.lookups.folder.want_id(record.folder.id if record.folder else None)


def media_payload(
    staging: Staging, outcome: RecordOutcome, record: MediaFields, path: str
) -> MediaPayload | None:
    """The fields a media record carries, with its folder as ``folderKey`` (the path's key; the commit
    creates the folders missing) or ``folderId`` (``null`` takes the media out of its folder). None when
    the folder named by id does not exist."""
    fields = record.model_fields_set
    payload: MediaPayload = {}
    if "url" in fields and record.url is not None:
        payload["url"] = record.url
    if "title" in fields:
        payload["title"] = record.title
    if "alt" in fields:
        payload["alt"] = record.alt
    if "filename" in fields:
        payload["filename"] = record.filename
    folder = record.folder
    if folder is not None and folder.path is not None:
        payload["folderKey"] = path_key(folder.path)
    elif folder is not None and folder.id is not None:
        if staging.lookups.folder.by_id(folder.id) is None:
            outcome.problems.append(not_found("folder", f"{path}.folder", folder.id))
            return None
        payload["folderId"] = folder.id.hex
    elif "folder" in fields:
        payload["folderId"] = None
    return payload


def product_media(
    staging: Staging,
    outcome: RecordOutcome,
    staged: StagedRecord,
    record: ProductRecord | VariantOverride,
    path: str,
) -> list[str]:
    """The ids of the media a product (or variant) lists, in its order and without repeats: by id, or by
    URL, staging a new media for a URL that names none yet."""
    lookup = staging.lookups.media
    media_ids: dict[str, None] = {}
    for index, ref in enumerate(record.media or ()):
        media_path = f"{path}.media.{index}"
        if ref.id is not None:
            resolved = staging.reference(
                outcome, staged, lookup, ref_id=ref.id, key=None, path=media_path,
                field_name="mediaIds", many=True,
            )  # fmt: skip
        else:
            assert ref.url is not None
            known = lookup.by_key(ref.url)
            if known is None:
                payload = media_payload(staging, outcome, ref, media_path)
                if payload is None:
                    continue
                nested = StagedRecord(
                    Operation.UPSERT, "media", new_id(), RecordAction.CREATE, ref.url, False, media_path,
                    payload,
                )  # fmt: skip
                staging.nest(outcome, lookup, staged, nested)
                resolved = nested.entity_id
            else:
                if known.creating:
                    staged.refs.append(Reference("media", media_path, id=known.id))
                resolved = known.id
        if resolved is not None:
            media_ids.setdefault(resolved.hex)
    return list(media_ids)

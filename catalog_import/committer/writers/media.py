"""Write media: their metadata (source URL, title, alt text, file name, folder; folders named by path are
created when missing) and, for media without a file or with a new source URL, the file downloaded from it.
A download that fails fails the media record (and so its root, through the commit's failure rules), or
with ``mediaFailure: "skip"`` leaves it out with a warning; while URL upload is disabled, media that would
need a download are skipped with a warning."""

import asyncio
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import (
    ClaimedRecord,
    Problems,
    WriteContext,
    adopt_existing,
    ids_of,
    problems_by_record,
    rows,
    run,
)
from catalog_import.ids import new_id
from catalog_import.media.download import Downloader, DownloadError, StoredFile
from catalog_import.media.repository import MediaFileRepository
from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.problems import Problem, error, warning
from catalog_import.resolvers.category import path_key, path_of

MISSING = """
SELECT r.record_id, 'MEDIA_NOT_FOUND', 'ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM media m WHERE m.id = r.entity_id)
"""

# Records whose media has no file yet, or is given a new source URL: (record, URL, old file).
NEEDS_FILE = """
SELECT r.record_id, coalesce(r.payload->>'url', m.source_url), m.sha256
FROM import_records r LEFT JOIN media m ON m.id = r.entity_id
WHERE r.record_id = ANY(:ids)
  AND (m.id IS NULL OR m.sha256 IS NULL
       OR (r.payload ? 'url' AND r.payload->>'url' IS DISTINCT FROM m.source_url))
"""

# Folders named by path in the batch, and which of them exist.
FOLDER_KEYS = """
SELECT DISTINCT r.payload->>'folderKey', f.id IS NOT NULL
FROM import_records r LEFT JOIN media_folders f ON f.path_key = r.payload->>'folderKey'
WHERE r.record_id = ANY(:ids) AND r.payload ? 'folderKey'
"""

# One level of folders, under parents that exist by now; a folder another batch creates meanwhile is kept.
CREATE_FOLDERS = """
INSERT INTO media_folders (id, parent_id, name, path, path_key)
SELECT n.id, p.id, n.path[cardinality(n.path)], n.path, n.key
FROM unnest(CAST(:ids AS uuid[]), CAST(:keys AS text[])) AS k(id, key)
CROSS JOIN LATERAL (SELECT k.id, k.key, string_to_array(k.key, :separator) AS path) AS n
LEFT JOIN media_folders p
       ON p.path_key = array_to_string(n.path[1:cardinality(n.path) - 1], :separator)
ORDER BY n.key
ON CONFLICT (path_key) DO NOTHING
"""

FOLDER = """
    CASE WHEN r.payload ? 'folderKey'
         THEN (SELECT f.id FROM media_folders f WHERE f.path_key = r.payload->>'folderKey')
         ELSE CAST(r.payload->>'folderId' AS uuid) END
"""

# Fields absent from the payload keep their value; fields present (even null) replace it.
NEW_VALUES = f"""
    coalesce(r.payload->>'url', m.source_url),
    CASE WHEN r.payload ? 'title' THEN r.payload->>'title' ELSE m.title END,
    CASE WHEN r.payload ? 'alt' THEN r.payload->>'alt' ELSE m.alt END,
    CASE WHEN r.payload ? 'filename' THEN r.payload->>'filename' ELSE m.filename END,
    CASE WHEN r.payload ?| ARRAY['folderKey', 'folderId'] THEN {FOLDER} ELSE m.folder_id END
"""

UPDATE = f"""
UPDATE media m
SET (source_url, title, alt, filename, folder_id) = ({NEW_VALUES}), updated_at = now()
FROM import_records r
WHERE r.record_id = ANY(:ids) AND m.id = r.entity_id
  AND (m.source_url, m.title, m.alt, m.filename, m.folder_id) IS DISTINCT FROM ({NEW_VALUES})
"""

INSERT = f"""
INSERT INTO media (id, source_url, title, alt, filename, folder_id)
SELECT r.entity_id, r.payload->>'url', r.payload->>'title', r.payload->>'alt', r.payload->>'filename',
       {FOLDER}
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'create'
  AND NOT EXISTS (SELECT 1 FROM media m WHERE m.id = r.entity_id)
"""

FILES = """
UPDATE media m
SET sha256 = f.sha256, size = f.size, mime_type = f.mime_type, width = f.width, height = f.height,
    filename = coalesce(m.filename, f.filename), updated_at = now()
FROM unnest(CAST(:record_ids AS bigint[]), CAST(:shas AS text[]), CAST(:sizes AS bigint[]),
            CAST(:mime_types AS text[]), CAST(:widths AS integer[]), CAST(:heights AS integer[]),
            CAST(:filenames AS text[]))
     AS f(record_id, sha256, size, mime_type, width, height, filename)
JOIN import_records r ON r.record_id = f.record_id
WHERE m.id = r.entity_id
"""

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/svg+xml": ".svg",
    "application/pdf": ".pdf",
}
SAFE_FILENAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}\.[A-Za-z0-9]{1,8}$")


async def write_media(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    await adopt_existing(session, ids_of(records), "media", "e.source_url = r.payload->>'url'")
    problems = problems_by_record(records, await rows(session, MISSING, ids_of(records)))
    needs_file = await rows(session, NEEDS_FILE, ids_of(records, exclude=problems))
    by_id = {record.record_id: record for record in records}
    files: dict[int, StoredFile] = {}
    downloader = context.media.downloader if context.media else None
    if needs_file and downloader is None:
        for record_id, url, _old in needs_file:
            problems[record_id] = [
                warning(
                    "MEDIA_URL_UPLOAD_DISABLED",
                    f"Media {url} not imported: downloading media from URLs is disabled",
                    by_id[record_id].path,
                    "media",
                )
            ]
    elif needs_file:
        assert downloader is not None
        results = await asyncio.gather(*(download(downloader, context, url) for _id, url, _old in needs_file))
        for (record_id, _url, old_file), result in zip(needs_file, results, strict=True):
            if isinstance(result, DownloadError):
                problems[record_id] = [download_problem(context, result, by_id[record_id].path)]
                continue
            files[record_id] = result
            context.touched_files.add(result.sha256)
            if old_file:
                context.touched_files.add(old_file)
        urls = {record_id: url for record_id, url, _old in needs_file}
        problems.update(await keep_files(session, downloader, context, files, urls, by_id))
    ids = ids_of(records, exclude=problems)
    await create_folders(session, ids)
    await run(session, UPDATE, ids)
    await run(session, INSERT, ids)
    if files:
        await session.execute(
            text(FILES),
            {
                "record_ids": list(files),
                "shas": [f.sha256 for f in files.values()],
                "sizes": [f.size for f in files.values()],
                "mime_types": [f.mime_type for f in files.values()],
                "widths": [f.width for f in files.values()],
                "heights": [f.height for f in files.values()],
                "filenames": [
                    default_filename(by_id[record_id], url, files[record_id])
                    for record_id, url, _old in needs_file
                    if record_id in files
                ],
            },
        )
    return problems


async def create_folders(session: AsyncSession, ids: Sequence[int]) -> None:
    """Create the folders the batch's media name by path and that do not exist yet, parents first (every
    batch in the same order of depth and path, so that concurrent batches do not deadlock)."""
    wanted = await rows(session, FOLDER_KEYS, ids)
    missing = {key for key, exists in wanted if not exists}
    paths = {tuple(path[:depth]) for path in map(path_of, missing) for depth in range(1, len(path) + 1)}
    for depth in range(1, max(map(len, paths), default=0) + 1):
        keys = sorted(path_key(path) for path in paths if len(path) == depth)
        await session.execute(
            text(CREATE_FOLDERS),
            {"ids": [new_id() for _ in keys], "keys": keys, "separator": CATEGORY_PATH_SEPARATOR},
        )


async def keep_files(
    session: AsyncSession,
    downloader: Downloader,
    context: WriteContext,
    files: dict[int, StoredFile],
    urls: dict[int, str],
    by_id: dict[int, ClaimedRecord],
) -> Problems:
    """Take the files into use under their locks (held until the batch commits), fetching again the rare
    one that a concurrent clean-up removed between its download and now. A media whose file cannot be
    fetched again, or has changed meanwhile, fails (and leaves ``files``)."""
    problems: Problems = {}
    if not files:
        return problems
    await MediaFileRepository(session).lock_files([file.sha256 for file in files.values()])
    for record_id, file in list(files.items()):
        if context.media is None or context.media.storage.path(file.sha256) is not None:
            continue
        url = urls[record_id]
        try:
            refetched = await downloader.fetch(url)
        except DownloadError as exc:
            failure = exc
        else:
            if refetched.sha256 == file.sha256:
                continue
            context.touched_files.add(refetched.sha256)
            failure = DownloadError("MEDIA_DOWNLOAD_FAILED", f"Media {url} changed while importing")
        # Written again record by record, the batch does not fetch it once more.
        context.downloads[url] = failure
        del files[record_id]
        problems[record_id] = [download_problem(context, failure, by_id[record_id].path)]
    return problems


def download_problem(context: WriteContext, failure: DownloadError, path: str) -> Problem:
    """The problem of a media whose file could not be had: an error, which fails the media and its root;
    with ``mediaFailure: "skip"`` a warning, the media left out and its root written without it."""
    if context.skip_failed_media:
        return warning(failure.code, f"{failure.message}; left out (mediaFailure: skip)", path, "media")
    return error(failure.code, failure.message, path, "media")


async def download(downloader: Downloader, context: WriteContext, url: str) -> StoredFile | DownloadError:
    """The file of ``url``, fetched once per batch."""
    if url not in context.downloads:
        try:
            context.downloads[url] = await downloader.fetch(url)
        except DownloadError as exc:
            context.downloads[url] = exc
    return context.downloads[url]


def default_filename(record: ClaimedRecord, url: str, file: StoredFile) -> str:
    """A file name for media pushed without one: the URL's last path segment when it is a plain file
    name, else the media's id with the extension of its type."""
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    if SAFE_FILENAME.match(name):
        return name
    return record.entity_id.hex + EXTENSIONS.get(file.mime_type, "")

"""``GET /media/{id}/{filename}``: the stored file of a media, served without a token like a shop's
public media. Files are sent as their recognised type, never sniffed by the browser, and SVGs cannot run
scripts (a sandboxing Content-Security-Policy)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse
from sqlalchemy import select

from catalog_import.db import Session
from catalog_import.errors import NotFound
from catalog_import.models import Media
from catalog_import.schemas import ErrorResponse

router = APIRouter(tags=["media"])

SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "Cache-Control": "public, max-age=86400",
}


@router.get(
    "/media/{media_id}/{filename}",
    operation_id="get_media_file",
    response_class=FileResponse,
    responses={
        200: {"description": "The file"},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
async def get_media_file(
    request: Request, media_id: Annotated[uuid.UUID, Path()], filename: str, session: Session
) -> FileResponse:
    """The file of a media that has been downloaded."""
    media = await session.scalar(select(Media).where(Media.id == media_id))
    stored = request.app.state.media_storage.path(media.sha256) if media and media.sha256 else None
    if media is None or stored is None or filename != media.filename:
        raise NotFound("Media file not found", code="MEDIA_NOT_FOUND")
    return FileResponse(
        stored, media_type=media.mime_type, headers={**SAFE_HEADERS, "ETag": f'"{media.sha256}"'}
    )

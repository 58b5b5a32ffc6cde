"""Recognise a downloaded file by its bytes, never by what the server claimed: JPEG, PNG, GIF, WebP and
AVIF images (via Pillow, which reads only the header), SVG (a parsed XML document whose root is ``svg``)
and PDF. Anything else is not accepted. A file is given as its bytes (a download small enough to be held in
memory) or as the path it was written to."""

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

RASTER_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
SVG_LENGTH = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(px)?\s*$")
# An SVG larger than this is not parsed (it is rejected as not allowed).
MAX_SVG_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileType:
    mime_type: str
    width: int | None = None
    height: int | None = None


def sniff(file: bytes | Path) -> FileType | None:
    """The type of ``file`` (its bytes, or where it is), or None when it is not one of the accepted types."""
    if isinstance(file, bytes):
        head = file[:1024]
    else:
        with file.open("rb") as opened:
            head = opened.read(1024)
    if head.startswith(b"%PDF-"):
        return FileType("application/pdf")
    raster = _raster(file)
    if raster is not None:
        return raster
    return _svg(file, head)


def _raster(file: bytes | Path) -> FileType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = io.BytesIO(file) if isinstance(file, bytes) else file
            with Image.open(source, formats=list(RASTER_TYPES)) as image:
                return FileType(RASTER_TYPES[image.format or ""], image.width, image.height)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError):
        return None
    except (KeyError, ValueError, SyntaxError):
        return None


def _svg(file: bytes | Path, head: bytes) -> FileType | None:
    if b"<svg" not in head and b"<?xml" not in head and b"<!--" not in head:
        return None
    if (len(file) if isinstance(file, bytes) else file.stat().st_size) > MAX_SVG_BYTES:
        return None
    try:
        if isinstance(file, bytes):
            root = defusedxml.ElementTree.fromstring(file, forbid_dtd=True)
        else:
            root = defusedxml.ElementTree.parse(file, forbid_dtd=True).getroot()
    except (ParseError, DefusedXmlException, ValueError):
        return None
    if root.tag not in (f"{SVG_NAMESPACE}svg", "svg"):
        return None
    return FileType("image/svg+xml", _length(root.get("width")), _length(root.get("height")))


def _length(value: str | None) -> int | None:
    match = SVG_LENGTH.match(value or "")
    return round(float(match.group(1))) if match else None

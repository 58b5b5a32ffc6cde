"""Recognising files by their bytes: the accepted image types and PDF, with their dimensions, and nothing
else (whatever a server claims)."""

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, features

from catalog_import.media.sniff import FileType, sniff
from tests.media.servers import image_bytes

Write = Callable[..., bytes | Path]


@pytest.fixture(params=["in memory", "on disk"])
def write(tmp_path: Path, request: pytest.FixtureRequest) -> Write:
    """A download as the sniffer is given it: its bytes (held in memory), or the file it was written to."""

    def write(content: bytes, name: str = "download.part") -> bytes | Path:
        if request.param == "in memory":
            return content
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG whose header claims ``width`` × ``height`` (its pixel data is not there)."""
    png = bytearray(image_bytes((1, 1)))
    ihdr = bytes(png[12:16]) + struct.pack(">II", width, height) + bytes(png[24:29])
    png[12:33] = ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return bytes(png)


RASTERS = [
    ("JPEG", "image/jpeg"),
    ("PNG", "image/png"),
    ("GIF", "image/gif"),
    ("WEBP", "image/webp"),
    pytest.param(
        "AVIF",
        "image/avif",
        marks=pytest.mark.skipif(not features.check("avif"), reason="Pillow is built without AVIF"),
    ),
]


@pytest.mark.parametrize(("format", "mime_type"), RASTERS)
def test_raster_images_are_recognised_with_their_dimensions(
    write: Write, format: str, mime_type: str
) -> None:
    assert sniff(write(image_bytes((7, 5), format))) == FileType(mime_type, 7, 5)


def test_an_animated_gif_is_a_gif(write: Write) -> None:
    frames = [Image.new("P", (4, 6), colour) for colour in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert sniff(write(buffer.getvalue())) == FileType("image/gif", 4, 6)


def test_the_name_of_the_file_does_not_matter(write: Write) -> None:
    assert sniff(write(image_bytes((2, 3), "JPEG"), "picture.pdf")) == FileType("image/jpeg", 2, 3)


@pytest.mark.parametrize(
    ("svg", "width", "height"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect/></svg>', 120, 80),
        (
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="12.6px" height=" 4 "/>',
            13,
            4,
        ),
        (b'<!-- logo -->\n<svg width="10" height="20"></svg>', 10, 20),
        (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>', None, None),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="5em"/>', None, None),
    ],
)
def test_svg_is_recognised_with_its_dimensions(
    write: Write, svg: bytes, width: int | None, height: int | None
) -> None:
    assert sniff(write(svg)) == FileType("image/svg+xml", width, height)


def test_pdf_is_recognised_by_its_header(write: Write) -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    assert sniff(write(pdf)) == FileType("application/pdf")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("image.png", image_bytes())
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&lol3;</text></svg>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&secret;</text></svg>
"""

DOCTYPE_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>
"""

REFUSED = {
    "empty": b"",
    "text": b"just some text, not an image\n",
    "html": b"<!DOCTYPE html><html><head><title>Not found</title></head><body>404</body></html>",
    "html with an svg inside": b'<html><body><svg width="1" height="1"></svg></body></html>',
    "json": b'{"error": "not found"}',
    "zip": zip_bytes(),
    "billion laughs": BILLION_LAUGHS,
    "external entity": EXTERNAL_ENTITY,
    "doctype": DOCTYPE_ONLY,
    "xml that is not svg": b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
    "svg in another namespace": b'<svg xmlns="http://example.com/not-svg" width="1" height="1"/>',
    "broken svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="1"',
    "bmp": image_bytes((3, 2), "BMP"),
    "tiff": image_bytes((3, 2), "TIFF"),
    "ico": image_bytes((16, 16), "ICO"),
    "truncated png signature": image_bytes()[:6],
    "pdf header not at the start": b" %PDF-1.4\n",
}


@pytest.mark.parametrize("content", REFUSED.values(), ids=REFUSED.keys())
def test_anything_else_is_not_accepted(write: Write, content: bytes) -> None:
    assert sniff(write(content)) is None


@pytest.mark.parametrize(("width", "height"), [(10_000, 10_000), (20_000, 20_000)])
def test_a_decompression_bomb_is_not_accepted(write: Write, width: int, height: int) -> None:
    # Over Pillow's pixel limit (a warning) and over twice the limit (an error): refused either way.
    assert width * height > Image.MAX_IMAGE_PIXELS
    assert sniff(write(png_declaring(width, height))) is None


def test_a_large_but_reasonable_header_is_accepted(write: Write) -> None:
    assert sniff(write(png_declaring(4000, 3000))) == FileType("image/png", 4000, 3000)

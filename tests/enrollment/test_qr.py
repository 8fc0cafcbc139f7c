import math
import re
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest

from enrollment.qr import qr_png, qr_svg

URL = "https://mdm.schule-am-park.example/enroll/et_Q2hlY2tpbmctdGhlLXFyLWNvZGUtc2l6ZQ"
# 86 bytes at level M need version 5: 37 modules, plus a 4-module border on each side.
MODULES = 37 + 2 * 4


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def test_png_is_a_decodable_image_of_the_expected_size() -> None:
    data = qr_png(URL, scale=8)

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = png_chunks(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, bit_depth, color_type = struct.unpack(">IIBB", chunks[0][1][:10])
    assert width == height == MODULES * 8
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row_bytes = 1 + math.ceil(width * bit_depth * channels / 8)
    assert len(pixels) == height * row_bytes


def test_png_scale_changes_size() -> None:
    chunks = png_chunks(qr_png(URL, scale=2))

    assert struct.unpack(">II", chunks[0][1][:8]) == (MODULES * 2, MODULES * 2)


def test_svg_is_self_contained_xml() -> None:
    data = qr_svg(URL)

    assert data.startswith(b"<?xml")
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == root.get("height") == str(MODULES * 8)
    text = data.decode()
    without_namespace = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http" not in without_namespace
    assert not re.search(r"href|<image|<script|url\(", text)


def test_empty_url_is_rejected() -> None:
    with pytest.raises(ValueError):
        qr_svg("")

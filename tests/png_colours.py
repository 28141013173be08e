"""A tiny PNG reader for the tests: the distinct colours of an 8-bit RGB or RGBA image.

Enough to tell a rendered page from a blank one without an imaging library (zlib only).
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["distinct_colours"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, previous: bytearray, channels: int) -> bytearray:
    """Undo one scanline's filter (PNG filter types 0 to 4), in place."""
    if kind == 0:
        return line
    for i in range(len(line)):
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        else:
            corner = previous[i - channels] if i >= channels else 0
            line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
    return line


def distinct_colours(png: bytes, *, step: int = 1) -> int:
    """How many different pixel colours ``png`` holds (every ``step``-th row counted).

    Raises:
        ValueError: not an 8-bit, non-interlaced RGB/RGBA PNG.
    """
    if not png.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    offset, idat = len(_SIGNATURE), bytearray()
    width = height = channels = 0
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        data = png[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous,
                         channels)  # fmt: skip
        if y % step == 0:
            colours.update(bytes(line[i : i + 3]) for i in range(0, stride, channels))
        previous = line
    return len(colours)

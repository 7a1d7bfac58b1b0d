#!/usr/bin/env python3
"""Counts the pixels of a PNG screenshot (8-bit RGB or RGBA, as Chromium writes them):
all, non-white, and those of each colour given as #rrggbb. Standard library only, so the
test that a chart was drawn needs nothing more than python3.

usage: png-pixels.py FILE [#rrggbb ...]   prints: size W H / nonwhite N / #rrggbb N ...
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour not in (2, 6):
                sys.exit(f"{path}: only 8-bit RGB/RGBA is read, not depth {depth} colour type {colour}")
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    previous = bytearray(stride)
    rows, i = [], 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = decode(sys.argv[1])
    wanted = {bytes.fromhex(c.lstrip("#")): 0 for c in sys.argv[2:]}
    nonwhite = 0
    for row in rows:
        for x in range(0, len(row), bpp):
            pixel = row[x:x + 3]
            if pixel != b"\xff\xff\xff":
                nonwhite += 1
                if pixel in wanted:
                    wanted[pixel] += 1
    print("size", width, height)
    print("nonwhite", nonwhite)
    for colour, count in wanted.items():
        print("#" + colour.hex(), count)


main()

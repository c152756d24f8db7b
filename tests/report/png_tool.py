#!/usr/bin/env python3
"""PNG files with the standard library only (no PIL on these machines).

  png_tool.py stats FILE              prints "WIDTHxHEIGHT colors=N nonwhite=F": the number of
                                      distinct colors (up to 4096) and the share of non-white
                                      pixels, to tell a rendered page from a blank one
  png_tool.py crop FILE OUT Y0 Y1     writes rows [Y0, Y1) of FILE to OUT (RGB)

Reads 8-bit RGB and RGBA, non-interlaced (what Chromium writes)."""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise SystemExit(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs (depth {depth}, color {color})")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    # As RGB rows.
    if channels == 4:
        rows = [bytes(b for i, b in enumerate(r) if i % 4 != 3) for r in rows]
    return width, height, rows


def write_png(path, width, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0))
    out += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(out)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "stats":
        width, height, rows = read_png(sys.argv[2])
        colors, nonwhite = set(), 0
        for r in rows:
            for i in range(0, len(r), 3):
                px = r[i:i + 3]
                if len(colors) < 4096:
                    colors.add(px)
                nonwhite += px != b"\xff\xff\xff"
        print(f"{width}x{height} colors={len(colors)} nonwhite={nonwhite / (width * height):.4f}")
    elif len(sys.argv) == 6 and sys.argv[1] == "crop":
        width, height, rows = read_png(sys.argv[2])
        y0, y1 = int(sys.argv[4]), int(sys.argv[5])
        write_png(sys.argv[3], width, rows[max(0, y0):min(height, y1)])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Renders the app icon (public/icon.svg's shapes) to PNG at 192 and 512 px, standard library only.
Run by hand when the icon changes: python3 build/icons.py"""
import struct, zlib, os

def inside(x, y):
    # coordinates in the 512-unit box of icon.svg
    def rrect(x0, y0, x1, y1, r):
        cx = min(max(x, x0 + r), x1 - r); cy = min(max(y, y0 + r), y1 - r)
        return x0 <= x <= x1 and y0 <= y <= y1 and (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if not rrect(0, 0, 512, 512, 96):
        return None
    for cx in (186, 256, 326):
        if (x - cx) ** 2 + (y - 247) ** 2 <= 26 * 26:
            return 'bg'
    bubble = rrect(80, 136, 432, 358, 36)
    # tail: triangle (152,358) (236,358) (152,426)
    tail = 152 <= x <= 236 and 358 <= y <= 426 and (x - 152) * 68 + (y - 358) * 84 <= 84 * 68
    return 'fg' if bubble or tail else 'bg'

def render(size, path):
    ss = 4
    rows = []
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(ss):
                for sx in range(ss):
                    x = (px + (sx + 0.5) / ss) * 512 / size; y = (py + (sy + 0.5) / ss) * 512 / size
                    k = inside(x, y)
                    if k is None: continue
                    c = (255, 255, 255) if k == 'fg' else (0x1f, 0x4e, 0x79)
                    acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 255
            n = ss * ss; a = acc[3] // n
            if a: row += bytes([acc[0] * 255 // acc[3], acc[1] * 255 // acc[3], acc[2] * 255 // acc[3], a])
            else: row += bytes(4)
        rows.append(bytes(row))
    raw = zlib.compress(b''.join(rows), 9)
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', size, size, 8, 6, 0, 0, 0)) + chunk(b'IDAT', raw) + chunk(b'IEND', b'')
    open(path, 'wb').write(png)

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'public')
for s in (192, 512):
    render(s, os.path.join(here, f'icon-{s}.png'))

#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/virtio_dev_fuzz.c (see its input format):
for each device a valid driver init and one or more valid requests, so the
fuzzer starts deep in every device. Run from the repository root."""
import struct

BLK, NET, RNG, BALLOON, MEM = range(5)
HP = 0x8000000  # the fuzz target's hotplug region (16 MiB, 2 MiB blocks)
MIB2 = 2 << 20
ALL = 0xFFFFFFFFFFFFFFFF


def ring(d, q):
    return 0x20000 + d * 0x10000 + q * 0x3000


def op(kind, dev):
    if dev == MEM:
        return bytes([0x80 | kind << 2])
    return bytes([(kind << 2) | dev])


def init(dev, mask=ALL, qsz_log=4):
    return op(4, dev) + struct.pack('<QB', mask, qsz_log)


def ram(gpa, data):
    out = b''
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += op(2, 0) + struct.pack('<IB', gpa + i, len(chunk)) + chunk
    return out


def post(dev, q, descs):
    """descs: (addr, len, writable)"""
    out = op(5, dev) + bytes([q, len(descs) - 1])
    for addr, ln, w in descs:
        shift = 0
        while ln >= 1 << 16:
            assert ln % 2 == 0
            ln >>= 1
            shift += 1
        out += struct.pack('<IHB', addr, ln, (1 if w else 0) | shift << 4)
    return out


def process(dev):
    return op(3, dev)


def blk_req(typ, sector, hdr, data, status, n=512, write=False):
    return (ram(hdr, struct.pack('<IIQ', typ, 0, sector)) +
            post(BLK, 0, [(hdr, 16, False), (data, n, not write),
                          (status, 1, True)] if typ != 4 else
                 [(hdr, 16, False), (status, 1, True)]) + process(BLK))


def seeds():
    s = {}
    s['blk'] = (bytes([0]) + init(BLK) + ram(0x61000, b'\x5a' * 512) +
                blk_req(1, 1, 0x60000, 0x61000, 0x62000, write=True) +
                blk_req(0, 1, 0x60100, 0x63000, 0x62001) +
                blk_req(4, 0, 0x60200, 0, 0x62002) +
                blk_req(8, 0, 0x60300, 0x64000, 0x62003, n=20))
    s['blk-ro'] = (bytes([8]) + init(BLK) +
                   blk_req(1, 0, 0x60000, 0x61000, 0x62000, write=True))
    frame = bytes(range(60))
    for name, mask in (('net-mrg', ALL), ('net', ALL & ~(1 << 15))):
        s[name] = (bytes([0]) + init(NET, mask) +
                   post(NET, 0, [(0x70000, 2048, True)]) +
                   post(NET, 0, [(0x70800, 2048, True)]) + process(NET) +
                   op(6, NET) + struct.pack('<H', len(frame)) + frame +
                   ram(0x71000, bytes(12) + frame) +
                   post(NET, 1, [(0x71000, 12 + len(frame), False)]) +
                   process(NET))
    s['rng'] = (bytes([0]) + init(RNG) + post(RNG, 0, [(0x74000, 64, True)]) +
                post(RNG, 0, [(0x74100, 16, True), (0x74200, 16, True)]) +
                process(RNG))
    pfns = struct.pack('<5I', 0x80, 0x81, 0x82, 0x90, 0x80)
    stats = struct.pack('<HQHQ', 4, 1 << 20, 5, 1 << 21)
    s['balloon'] = (bytes([7]) + init(BALLOON) + op(7, BALLOON) +
                    struct.pack('<H', 16) + ram(0x78000, pfns) +
                    post(BALLOON, 0, [(0x78000, len(pfns), False)]) +
                    process(BALLOON) +
                    post(BALLOON, 1, [(0x78000, len(pfns), False)]) +
                    ram(0x79000, stats) +
                    post(BALLOON, 2, [(0x79000, len(stats), False)]) +
                    process(BALLOON) +
                    post(BALLOON, 3, [(0xa0000, 0x10000, True),
                                      (0xc0000, 0x8000, True)]) +
                    process(BALLOON) + op(8, BALLOON) +
                    struct.pack('<II', 0xe0000, 0x4000))
    s['balloon-plain'] = (bytes([0]) + init(BALLOON) + ram(0x78000, pfns) +
                          post(BALLOON, 0, [(0x78000, len(pfns), False)]) +
                          process(BALLOON))
    # virtio-mem: plug two blocks, query, unplug one, unplug all, and a
    # misaligned plug; the requested size is set by the setup bit.
    def mem_req(typ, addr, nb, at):
        return (ram(at, struct.pack('<H6xQH6x', typ, addr, nb)) +
                post(MEM, 0, [(at, 24, False), (at + 0x100, 10, True)]) +
                process(MEM))
    s['mem'] = (bytes([0x10]) + init(MEM) +
                mem_req(0, HP, 2, 0x7a000) +
                mem_req(3, HP, 4, 0x7a200) +
                mem_req(1, HP + MIB2, 1, 0x7a400) +
                mem_req(0, HP + 4096, 1, 0x7a600) +
                op(7, MEM) + struct.pack('<H', 2) +
                mem_req(2, 0, 0, 0x7a800))
    # Every device up at once, then the guest turns hostile: a queue at
    # the end of RAM, a register write of every width, a reset mid-request.
    s['all'] = (bytes([1]) + init(BLK) + init(NET) + init(RNG) +
                init(BALLOON) +
                blk_req(0, 3, 0x60000, 0x61000, 0x62000) +
                post(RNG, 0, [(0x74000, 32, True)]) + process(RNG) +
                op(0, BLK) + struct.pack('<HBI', 0x030, 2, 0) +
                op(0, BLK) + struct.pack('<HBI', 0x080, 3, 0xffff0) +
                op(1, NET) + struct.pack('<HB', 0x100, 0) +
                post(BLK, 0, [(0xfff00, 0x200, True)]) + op(9, BLK) +
                process(BLK))
    return s


if __name__ == '__main__':
    for name, data in seeds().items():
        with open('fuzz/corpus/virtio_dev/' + name, 'wb') as f:
            f.write(data)

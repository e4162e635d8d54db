"""tests/unwind/rawprof.py — read a RAW pprof (as `ember record --raw` writes
it) and name its frames with the binaries' own symbol tables, so the dwarf
end-to-end tests judge stacks without trusting ember's symbolizer.

stacks(path) -> list of (count, [frame name, leaf first]); a frame is the
function name from `nm` (symtab, else dynsym) of the mapping's file, the
location's own function name when it has one (e.g. "[truncated]"), or
"?<file>" when the address is in no symbol.
"""
import bisect
import gzip
import os
import subprocess


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def _fields(b):
    """Yields (field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = int.from_bytes(b[i:i + 8], "little")
            i += 8
        elif wt == 5:
            v = int.from_bytes(b[i:i + 4], "little")
            i += 4
        else:
            raise ValueError("bad wire type %d" % wt)
        yield f, wt, v


def _ints(wt, v):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


def read(path):
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    prof = {"samples": [], "mappings": {}, "locations": {}, "functions": {}, "strings": []}
    for f, wt, v in _fields(data):
        if f == 2:
            s = {"locs": [], "values": []}
            for sf, swt, sv in _fields(v):
                if sf == 1:
                    s["locs"] += _ints(swt, sv)
                elif sf == 2:
                    s["values"] += _ints(swt, sv)
            prof["samples"].append(s)
        elif f == 3:
            m = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0}
            for mf, _, mv in _fields(v):
                if mf in m:
                    m[mf] = mv
            prof["mappings"][m[1]] = {"start": m[2], "limit": m[3], "offset": m[4],
                                      "file": m[5], "build_id": m[6]}
        elif f == 4:
            loc = {"id": 0, "mapping": 0, "address": 0, "functions": []}
            for lf, _, lv in _fields(v):
                if lf == 1:
                    loc["id"] = lv
                elif lf == 2:
                    loc["mapping"] = lv
                elif lf == 3:
                    loc["address"] = lv
                elif lf == 4:
                    for nf, _, nv in _fields(lv):
                        if nf == 1:
                            loc["functions"].append(nv)
            prof["locations"][loc["id"]] = loc
        elif f == 5:
            fn = {1: 0, 2: 0}
            for ff, _, fv in _fields(v):
                if ff in fn:
                    fn[ff] = fv
            prof["functions"][fn[1]] = fn[2]
        elif f == 6:
            prof["strings"].append(v.decode())
    return prof


class Symbols:
    """Function names of one ELF file, by file offset."""

    def __init__(self, path):
        self.loads = []
        out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            p = line.split()
            if p and p[0] == "LOAD":
                self.loads.append((int(p[1], 16), int(p[2], 16), int(p[4], 16)))
        syms = {}
        for args in (["nm", "-n", "--defined-only"], ["nm", "-D", "-n", "--defined-only"]):
            out = subprocess.run(args + [path], capture_output=True, text=True).stdout
            for line in out.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in "tTwWi":
                    syms.setdefault(int(p[0], 16), p[2].split("@")[0])
        self.addrs = sorted(syms)
        self.names = [syms[a] for a in self.addrs]

    def name(self, file_offset):
        for off, vaddr, filesz in self.loads:
            if off <= file_offset < off + filesz:
                va = file_offset - off + vaddr
                i = bisect.bisect_right(self.addrs, va) - 1
                return self.names[i] if i >= 0 else None
        return None


_symcache = {}


def stacks(path):
    prof = read(path)
    st = prof["strings"]
    out = []
    for s in prof["samples"]:
        frames = []
        for lid in s["locs"]:
            loc = prof["locations"].get(lid)
            if loc is None:
                frames.append("?")
                continue
            if loc["functions"]:
                frames.append(st[prof["functions"].get(loc["functions"][0], 0)])
                continue
            m = prof["mappings"].get(loc["mapping"])
            if not m:
                frames.append("?")
                continue
            fname = st[m["file"]]
            if not fname.startswith("/") or not os.path.exists(fname):
                frames.append(fname or "?")
                continue
            if fname not in _symcache:
                _symcache[fname] = Symbols(fname)
            name = _symcache[fname].name(loc["address"] - m["start"] + m["offset"])
            frames.append(name or "?" + os.path.basename(fname))
        out.append((s["values"][0] if s["values"] else 1, frames))
    return out

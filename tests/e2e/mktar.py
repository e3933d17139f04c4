#!/usr/bin/env python3
"""Writes hostile or unusual tar streams for tests (raw blocks, so nothing is "fixed" for us).

mktar.py OUT KIND   with KIND one of:
  dotdot        an entry named ../x
  absolute      an entry named /abs (besides the root "/")
  symlink-out   a relative symlink climbing out of the root (a/link -> ../../etc/passwd)
  short-data    a file whose header declares 100000 bytes followed by 100 bytes and the end
  ok            a small well-formed layer (etc/hello, a dir, a symlink)
"""
import sys, tarfile

out, kind = sys.argv[1], sys.argv[2]
blocks = []
def add(name, data=b"hello\n", typ=tarfile.REGTYPE, link="", size=None):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.linkname = link; ti.mode = 0o644
    ti.size = (len(data) if size is None else size) if typ == tarfile.REGTYPE else 0
    blocks.append(ti.tobuf(format=tarfile.PAX_FORMAT))
    if typ == tarfile.REGTYPE:
        blocks.append(data + b"\0" * ((512 - len(data) % 512) % 512))
add("etc/", typ=tarfile.DIRTYPE)
add("etc/hello")
if kind == "dotdot": add("../x")
elif kind == "absolute": add("/abs")
elif kind == "symlink-out": add("a/link", typ=tarfile.SYMTYPE, link="../../etc/passwd")
elif kind == "ok": add("etc/link", typ=tarfile.SYMTYPE, link="hello")
elif kind == "short-data": add("big", data=b"x" * 100, size=100000)
data = b"".join(blocks) + b"\0" * 1024
open(out, "wb").write(data)

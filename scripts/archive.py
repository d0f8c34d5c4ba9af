#!/usr/bin/env python3
"""Write a reproducible .tar.gz holding one executable: `archive.py BINARY NAME/IN/ARCHIVE OUT`.

The same bytes on any machine with the same binary: ustar headers with mtime 0, owner and group
0 without names, modes 0755, the directory entry first, and gzip with no name or timestamp
(compression level 9). Python's tarfile and zlib, not the machine's tar and gzip, whose output
differs between GNU and BSD (macOS) versions.
"""

import gzip
import io
import sys
import tarfile


def entry(name, kind, size=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o755
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: archive.py BINARY NAME/IN/ARCHIVE OUT.tar.gz")
    binary, name, out = sys.argv[1:]
    with open(binary, "rb") as f:
        data = f.read()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(entry(name.rsplit("/", 1)[0], tarfile.DIRTYPE))
        tar.addfile(entry(name, tarfile.REGTYPE, len(data)), io.BytesIO(data))
    with open(out, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())


if __name__ == "__main__":
    main()

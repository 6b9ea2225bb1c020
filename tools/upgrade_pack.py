#!/usr/bin/env python3
"""Rewrites IPET packs of format 1.0 as format 1.1: the same tensors byte for byte and the same metadata, plus the
content digest (`ipet.content_sha256`, Formats/safetensors.md section 4) that 1.1 requires.

    .venv-tools/bin/python tools/upgrade_pack.py PACK.ipet [PACK.ipet ...]     # in place
    .venv-tools/bin/python tools/upgrade_pack.py --check PACK.ipet ...         # exit 1 if any is not 1.1 / damaged

A digest only says the file is unchanged from now on: upgrade packs you trust (the ones you made or verified).
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import CONTENT_DIGEST_KEY, content_digest, file_content_digest, write_file_atomically  # noqa: E402


def split(path: Path) -> tuple[dict, list[tuple[str, str]], bytes]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = list((header.pop("__metadata__", None) or {}).items())
    return header, meta, data[8 + n:]


def upgrade(path: Path) -> str:
    header, meta, body = split(path)
    keys = dict(meta)
    if keys.get("ipet.format") != "ipet-pack":
        raise SystemExit(f"{path}: not an IPET pack")
    if keys.get("ipet.version") == "1.1" and keys.get(CONTENT_DIGEST_KEY) == file_content_digest(path):
        return "already 1.1"
    if keys.get("ipet.version") != "1.0":
        raise SystemExit(f"{path}: ipet.version {keys.get('ipet.version')!r} is not 1.0")
    meta = [(k, "1.1" if k == "ipet.version" else v) for k, v in meta if k != CONTENT_DIGEST_KEY]
    tensors = [(k, v["dtype"], v["shape"], body[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()]
    meta.append((CONTENT_DIGEST_KEY, content_digest(meta, tensors)))
    # The header keeps the tensor entries and data exactly; only __metadata__ changes.
    new_header = {"__metadata__": dict(meta), **header}
    h = json.dumps(new_header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    write_file_atomically(path, struct.pack("<Q", len(h)) + h + body)
    return "upgraded to 1.1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("packs", nargs="+", type=Path)
    ap.add_argument("--check", action="store_true", help="only check that every pack is 1.1 with a matching digest")
    args = ap.parse_args()
    bad = 0
    for p in args.packs:
        if args.check:
            _, meta, _ = split(p)
            keys = dict(meta)
            ok = keys.get("ipet.version") == "1.1" and keys.get(CONTENT_DIGEST_KEY) == file_content_digest(p)
            print(f"{p}: {'ok' if ok else 'NOT 1.1 with a matching digest'}")
            bad += not ok
        else:
            print(f"{p}: {upgrade(p)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

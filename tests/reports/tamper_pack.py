"""Alters an evidence pack as a forger would: rewrites the first issued
report in it (one figure changed) and brings SHA256SUMS and the manifest's
file list up to date, so `sha256sum -c` passes; only the hash the server kept
when it issued the report can tell.

Usage: tamper_pack.py IN.zip OUT.zip
"""

import hashlib
import json
import sys
import zipfile


def main(src, dst):
    files = {}
    with zipfile.ZipFile(src) as z:
        for name in z.namelist():
            files[name] = z.read(name)
    manifest = json.loads(files["manifest.json"])
    target = manifest["issued"][0]["path"]
    report = json.loads(files[target])
    report["totals"]["posts"]["missed"] = 0
    files[target] = json.dumps(report).encode()
    for f in manifest["files"]:
        f["sha256"] = hashlib.sha256(files[f["path"]]).hexdigest()
        f["bytes"] = len(files[f["path"]])
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    listed = [f["path"] for f in manifest["files"]] + ["manifest.json"]
    files["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in listed
    ).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files.items():
            z.writestr(name, body)
    print(target)


if __name__ == "__main__":
    main(*sys.argv[1:3])

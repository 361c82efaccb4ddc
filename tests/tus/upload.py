"""Uploads a file to a fieldsync server with tuspy, a stock tus client.

    upload.py --endpoint URL --token TOKEN --file PATH
              [--chunk-size N] [--stop-after-chunks K] [--url UPLOAD_URL]

With --stop-after-chunks the client sends K chunks and exits, as an app killed
mid-upload would; a later run with --url resumes that upload (tuspy asks the
server for the offset with HEAD). Every chunk carries an Upload-Checksum.
Prints one JSON line: {"url", "offset", "blob_hash", "blob_stored"}.
Run by tests/it/photos.rs with the interpreter of target/tools/venv.
"""

import argparse
import hashlib
import json
import os

from tusclient import client
from tusclient.uploader import Uploader


class Sha256Uploader(Uploader):
    """tuspy's uploader, checksumming chunks with sha256 (the server's
    algorithm) instead of its default sha1."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--chunk-size", type=int, default=64 * 1024)
    parser.add_argument("--stop-after-chunks", type=int)
    parser.add_argument("--url")
    args = parser.parse_args()

    with open(args.file, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    tus = client.TusClient(
        args.endpoint, headers={"Authorization": "Bearer " + args.token}
    )
    uploader = Sha256Uploader(
        file_path=args.file,
        client=tus,
        url=args.url,
        chunk_size=args.chunk_size,
        upload_checksum=True,
        metadata={
            "filename": os.path.basename(args.file),
            "filetype": "image/jpeg",
            "sha256": sha256,
        },
    )
    if args.stop_after_chunks:
        for _ in range(args.stop_after_chunks):
            uploader.upload_chunk()
    else:
        uploader.upload()
    headers = uploader.request.response_headers if uploader.request else {}
    print(
        json.dumps(
            {
                "url": uploader.url,
                "offset": uploader.offset,
                "blob_hash": headers.get("fieldsync-blob-hash"),
                "blob_stored": headers.get("fieldsync-blob-stored"),
            }
        )
    )


if __name__ == "__main__":
    main()

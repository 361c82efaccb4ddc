"""A real S3 client (boto3) against the S3-compatible test server.

    s3_bucket.py --endpoint URL create BUCKET
    s3_bucket.py --endpoint URL list BUCKET

`list` prints one JSON object: key -> {"size", "sha256"} of every object.
Run by tests/it/photos.rs with the interpreter of target/tools/venv.
"""

import argparse
import hashlib
import json

import boto3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("command", choices=["create", "list"])
    parser.add_argument("bucket")
    args = parser.parse_args()
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="fieldsync-test",
        aws_secret_access_key="fieldsync-test",
    )
    if args.command == "create":
        s3.create_bucket(Bucket=args.bucket)
        print(json.dumps({"created": args.bucket}))
        return
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=args.bucket, Key=item["Key"])["Body"].read()
            objects[item["Key"]] = {
                "size": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            }
    print(json.dumps(objects))


if __name__ == "__main__":
    main()

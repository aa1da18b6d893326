"""`s3://bucket/key` URIs, as the run plan and the jobs pass them around."""

from __future__ import annotations


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of `s3://bucket/key`; ValueError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ValueError(f"expected an s3://bucket/key URI, got {uri!r:.120}")
    return bucket, key


def folder_uri(bucket: str, prefix: str, *folders: str) -> str:
    """`s3://bucket/prefix/folder/`, with exactly one slash between parts and one at the end."""
    parts = [part.strip("/") for part in (prefix, *folders) if part.strip("/")]
    return f"s3://{bucket}/" + "".join(part + "/" for part in parts)


def sibling_uri(uri: str, name: str) -> str:
    """The URI of `name` in the same folder as `uri`."""
    return uri.rsplit("/", 1)[0] + "/" + name

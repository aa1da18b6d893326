"""Moving job inputs and outputs between the local S3 and a job's work directory."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from local.sagemaker.errors import SageMakerError


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise SageMakerError.validation(f"{uri!r} is not an S3 URI: expected s3://bucket/key")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise SageMakerError.validation(f"{uri!r} names no bucket: expected s3://bucket/key")
    return bucket, key


class NoObjectsFound(Exception):
    """An input location holds nothing; SageMaker fails the job with a ClientError."""


class S3Transfer:
    def __init__(self, s3_client: Any, region: str) -> None:
        self._s3 = s3_client
        self._region = region

    def download_prefix(self, uri: str, destination: Path) -> int:
        """Copy every object under `uri` into `destination`, keeping the key below the prefix.

        As SageMaker does for an `S3Prefix` data source: `s3://b/data/train` brings
        `data/train/part-0.csv` to `<destination>/part-0.csv`; an exact key brings that one file.
        """
        bucket, prefix = split_s3_uri(uri)
        destination.mkdir(parents=True, exist_ok=True)
        count = 0
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            pages = list(paginator.paginate(Bucket=bucket, Prefix=prefix))
        except self._s3.exceptions.NoSuchBucket:
            pages = []
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue  # a "folder" marker object
                relative = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self._s3.download_file(bucket, key, str(target))
                count += 1
        if count == 0:
            raise NoObjectsFound(
                f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
                f"that the bucket exists in the selected region ({self._region}), that objects exist "
                "under that S3 prefix, and that the role has \"s3:ListBucket\" permissions on bucket "
                f'"{bucket}".'
            )
        return count

    def download_file(self, uri: str, target: Path) -> None:
        bucket, key = split_s3_uri(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._s3.download_file(bucket, key, str(target))
        except Exception as error:
            raise NoObjectsFound(f"Could not download {uri}: {error}") from error

    def download_and_extract(self, uri: str, destination: Path) -> None:
        """A `.tar.gz` in S3 (model.tar.gz, sourcedir.tar.gz) unpacked into `destination`."""
        bucket, key = split_s3_uri(uri)
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            raise NoObjectsFound(f"Could not download {uri}: {error}") from error
        destination.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                archive.extractall(destination, filter="data")
        except tarfile.TarError as error:
            raise NoObjectsFound(f"{uri} is not a tar.gz archive: {error}") from error

    def upload_tarball(self, source: Path, uri: str) -> None:
        """`source`'s content as a gzipped tar at `uri` (members relative to `source`)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            if source.is_dir():
                for path in sorted(source.rglob("*")):
                    archive.add(path, arcname=str(path.relative_to(source)), recursive=False)
        bucket, key = split_s3_uri(uri)
        self._s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())

    def upload_directory(self, source: Path, uri: str) -> int:
        """Every file under `source` to `uri/<relative path>` (a processing output)."""
        bucket, prefix = split_s3_uri(uri)
        prefix = prefix.rstrip("/")
        count = 0
        if not source.is_dir():
            return 0
        for path in sorted(source.rglob("*")):
            if path.is_file():
                relative = path.relative_to(source).as_posix()
                key = f"{prefix}/{relative}" if prefix else relative
                self._s3.upload_file(str(path), bucket, key)
                count += 1
        return count

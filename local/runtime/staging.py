"""S3 staging for managed scripts: their inputs from the local S3 into a work directory before they
run, their outputs back after, as the managed service does for them.

`S3Staging` is the one way the local runtime moves objects: a prefix into a folder (SageMaker's
`S3Prefix` layout), one object, a `.tar.gz` unpacked or packed, a folder's files to a prefix.
`S3Mirror` builds on it for local Spark, which has no S3 connector: every S3 location a Glue job
names is copied into a scratch directory before the run, and whatever the job wrote, changed or
deleted there is copied back after it.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from botocore.exceptions import ClientError

# Hadoop's local filesystem writes a checksum file beside each file; S3 has none.
_CHECKSUM_FILE = re.compile(r"^\..*\.crc$")


class StagingError(Exception):
    """An S3 location could not be read or listed; the message names it and says why."""


class BucketNotFound(StagingError):
    """The bucket of a location does not exist."""


class NoObjectsFound(StagingError):
    """An input location holds nothing; SageMaker fails the job with a ClientError."""


class AccessDenied(StagingError):
    """The role the service acts as may not make this S3 call: "<what> (AccessDenied: <IAM's message>)"."""


# (action, resource ARN, condition keys) -> IAM's refusal message, or None when the role may.
Authorize = Callable[[str, str, Mapping[str, str]], "str | None"]


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
            raise StagingError(f"{uri!r} is not an s3://bucket/key URI")
        return cls(parsed.netloc, parsed.path.lstrip("/"))

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class S3Staging:
    """Objects between the (local) S3 and this machine's disk, through one S3 client.

    With `authorize`, each move is first authorized as the role the service acts as on AWS (SageMaker
    with the job's role, Glue with the job's): s3:GetObject / s3:PutObject / s3:DeleteObject on the
    object's ARN, s3:ListBucket on the bucket's with `s3:prefix`; a refusal is `AccessDenied`.
    """

    def __init__(self, s3_client: Any, region: str = "us-east-1", authorize: Authorize | None = None) -> None:
        self.s3 = s3_client
        self._region = region
        self._authorize = authorize

    def allow(self, action: str, location: S3Location, what: str) -> None:
        """Raise AccessDenied when the role may not `action` `location` (`what` says what was being done)."""
        if self._authorize is None:
            return
        if action == "s3:ListBucket":
            refusal = self._authorize(action, f"arn:aws:s3:::{location.bucket}", {"s3:prefix": location.key})
        else:
            refusal = self._authorize(action, f"arn:aws:s3:::{location.bucket}/{location.key}", {})
        if refusal is not None:
            raise AccessDenied(f"{what} (AccessDenied: {refusal})")

    def is_object(self, location: S3Location) -> bool:
        self.allow("s3:GetObject", location, f"Unable to read object {location.uri}")  # HEAD needs GetObject
        try:
            self.s3.head_object(Bucket=location.bucket, Key=location.key)
            return True
        except ClientError:
            return False

    def keys_under(self, location: S3Location) -> list[str]:
        """The keys under `location` as a prefix, folder marker objects left out."""
        keys: list[str] = []
        self.allow("s3:ListBucket", location, f"ListObjectsV2 failed for {location.uri}")
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key):
                keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
        except ClientError as error:
            kind = BucketNotFound if error.response.get("Error", {}).get("Code") == "NoSuchBucket" else StagingError
            raise kind(f"cannot list {location.uri}: {error}") from None
        return keys

    def download(self, location: S3Location, target: Path) -> Path:
        self.allow("s3:GetObject", location, f"Unable to download object {location.uri}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.download_file(location.bucket, location.key, str(target))
        except ClientError as error:
            raise StagingError(f"cannot read {location.uri}: {error}") from None
        return target

    def download_prefix(self, uri: str, destination: Path) -> int:
        """Copy every object under `uri` into `destination`, keeping the key below the prefix.

        As SageMaker does for an `S3Prefix` data source: `s3://b/data/train` brings
        `data/train/part-0.csv` to `<destination>/part-0.csv`; an exact key brings that one file.
        """
        location = S3Location.parse(uri)
        destination.mkdir(parents=True, exist_ok=True)
        try:
            keys = self.keys_under(location)
        except BucketNotFound:
            keys = []
        for key in keys:
            relative = key[len(location.key) :].lstrip("/") or key.rsplit("/", 1)[-1]
            self.download(S3Location(location.bucket, key), destination / relative)
        if not keys:
            raise NoObjectsFound(
                f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
                f"that the bucket exists in the selected region ({self._region}), that objects exist "
                'under that S3 prefix, and that the role has "s3:ListBucket" permissions on bucket '
                f'"{location.bucket}".'
            )
        return len(keys)

    def download_and_extract(self, uri: str, destination: Path) -> None:
        """A `.tar.gz` in S3 (model.tar.gz, sourcedir.tar.gz) unpacked into `destination`."""
        location = S3Location.parse(uri)
        self.allow("s3:GetObject", location, f"Unable to download object {uri}")
        try:
            body = self.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except Exception as error:
            raise NoObjectsFound(f"Could not download {uri}: {error}") from error
        destination.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                archive.extractall(destination, filter="data")
        except tarfile.TarError as error:
            raise NoObjectsFound(f"{uri} is not a tar.gz archive: {error}") from error

    def upload_file(self, source: Path, location: S3Location) -> None:
        self.allow("s3:PutObject", location, f"Unable to upload object {location.uri}")
        self.s3.upload_file(str(source), location.bucket, location.key)

    def delete(self, location: S3Location) -> None:
        self.allow("s3:DeleteObject", location, f"Unable to delete object {location.uri}")
        self.s3.delete_object(Bucket=location.bucket, Key=location.key)

    def upload_tarball(self, source: Path, uri: str) -> None:
        """`source`'s content as a gzipped tar at `uri` (members relative to `source`)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            if source.is_dir():
                for path in sorted(source.rglob("*")):
                    archive.add(path, arcname=str(path.relative_to(source)), recursive=False)
        location = S3Location.parse(uri)
        self.allow("s3:PutObject", location, f"Unable to upload object {uri}")
        self.s3.put_object(Bucket=location.bucket, Key=location.key, Body=buffer.getvalue())

    def upload_directory(self, source: Path, uri: str) -> int:
        """Every file under `source` to `uri/<relative path>` (a processing output)."""
        location = S3Location.parse(uri)
        prefix = location.key.rstrip("/")
        count = 0
        if not source.is_dir():
            return 0
        for path in sorted(source.rglob("*")):
            if path.is_file():
                relative = path.relative_to(source).as_posix()
                self.upload_file(path, S3Location(location.bucket, f"{prefix}/{relative}" if prefix else relative))
                count += 1
        return count


@dataclass
class S3Mirror:
    """A scratch-directory copy of the S3 locations a job names, synced back after the run."""

    staging: S3Staging
    root: Path
    _prefixes: dict[tuple[str, str], Path] = field(default_factory=dict)
    _pulled: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def local_path(self, location: S3Location) -> Path:
        return self.root / location.bucket / location.key

    def mount(self, uri: str) -> str:
        """Copy what is at `uri` (one object, or everything under the prefix) and return its file:// URI."""
        location = S3Location.parse(uri)
        target = self.local_path(location)
        if location.key and not location.key.endswith("/") and self.staging.is_object(location):
            self._pull(location)
            prefix = location.key
        else:
            prefix = location.key if not location.key or location.key.endswith("/") else location.key + "/"
            for key in self.staging.keys_under(S3Location(location.bucket, prefix)):
                self._pull(S3Location(location.bucket, key))
        self._prefixes[(location.bucket, prefix)] = self.root / location.bucket / prefix
        # Parents exist so Spark can write there; the location itself is created by the job.
        target.parent.mkdir(parents=True, exist_ok=True)
        file_uri = target.as_uri()
        return file_uri + "/" if uri.endswith("/") and not file_uri.endswith("/") else file_uri

    def s3_uri(self, uri: str) -> str | None:
        """The `s3://` URI a `file://` URI under this mirror stands for (what `mount` replaced); None otherwise."""
        if not uri.startswith("file://"):
            return None
        path = Path(unquote(urlparse(uri).path))  # `mount` wrote it with Path.as_uri(), percent-encoded
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            return None
        if relative == ".":
            return None
        return f"s3://{relative}" + ("/" if uri.endswith("/") else "")

    def download_file(self, uri: str, directory: Path) -> Path:
        """One object into `directory`, under its own name; not mirrored back."""
        location = S3Location.parse(uri)
        return self.staging.download(location, directory / Path(location.key).name)

    def sync_back(self) -> tuple[int, int]:
        """Upload new or changed files under the mounted locations; delete what the job removed."""
        uploaded = deleted = 0
        seen: set[Path] = set()
        for (bucket, prefix), local in self._prefixes.items():
            files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
            for path in files:
                if path in seen or _CHECKSUM_FILE.match(path.name):
                    continue
                seen.add(path)
                stat = path.stat()
                if self._pulled.get(path) == (stat.st_size, stat.st_mtime_ns):
                    continue
                self.staging.upload_file(path, self._location(path, bucket))
                uploaded += 1
            for path in [p for p in self._pulled if self._under(p, bucket, prefix)]:
                if not path.exists():
                    self.staging.delete(self._location(path, bucket))
                    self._pulled.pop(path)
                    deleted += 1
        return uploaded, deleted

    def _location(self, path: Path, bucket: str) -> S3Location:
        return S3Location(bucket, path.relative_to(self.root / bucket).as_posix())

    def _under(self, path: Path, bucket: str, prefix: str) -> bool:
        try:
            key = path.relative_to(self.root / bucket).as_posix()
        except ValueError:
            return False
        return key.startswith(prefix)

    def _pull(self, location: S3Location) -> None:
        target = self.staging.download(location, self.local_path(location))
        stat = target.stat()
        self._pulled[target] = (stat.st_size, stat.st_mtime_ns)

"""`ObjectStore` and `ErrorObjectStore` on Amazon S3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from retrain.ports import LandingObject, ModifiedObject
from retrain.timestamps import utc_iso

_MISSING = ("NoSuchKey", "404", "NotFound")


class S3ObjectStore:
    def __init__(self, client: Any, page_size: int = 1000) -> None:
        self._s3 = client
        self._page_size = page_size  # ListObjectsV2's maximum; smaller only to exercise paging

    def list_after(self, bucket: str, prefix: str, start_after: str) -> Iterator[LandingObject]:
        arguments = {"Bucket": bucket, "Prefix": prefix}
        if start_after:
            arguments["StartAfter"] = start_after
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            **arguments, PaginationConfig={"PageSize": self._page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield LandingObject(item["Key"], int(item.get("Size", 0)), utc_iso(item["LastModified"]))

    def list_modified(self, bucket: str, prefix: str) -> Iterator[ModifiedObject]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self._page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield ModifiedObject(item["Key"], int(item.get("Size", 0)), utc_iso(item["LastModified"]))

    def read(self, bucket: str, key: str) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        body: bytes = response["Body"].read()
        return body

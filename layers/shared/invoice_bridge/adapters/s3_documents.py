"""PDFs, e-invoices and logos in the documents bucket (SSE-KMS by the bucket's default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..ports import NotFound
from .aws import client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3DocumentStore:
    def __init__(self, bucket: str):
        self._bucket = bucket

    @property
    def _s3(self) -> S3Client:
        return client("s3")

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise NotFound(key) from exc
            raise

    def presign(self, key: str, expires_seconds: int = 300, download_name: str | None = None) -> str:
        """A short-lived GET link; with `download_name` the browser saves the file under that name."""
        params = {"Bucket": self._bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_seconds)

"""DataStore on any S3-compatible object store (AWS S3, MinIO, Ceph, moto...), through boto3.

One object per blob, its key `<prefix><cid>`. S3 replaces an object in one step (no reader
sees a partial upload), and puts of the same bytes under the same key are idempotent.
Credentials come from the arguments, or else from boto3's usual chain (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, a profile, an instance role).
"""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from flavum.da.errors import DataUnavailable, StoreUnreachable
from flavum.da.interface import DataStore

# S3 error codes that mean "no such object" (HEAD has no body, so only the status is known).
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Store(DataStore):
    """Blobs as objects in `bucket` (which must exist) under `prefix`."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.name = f"s3://{bucket}/{prefix}" + (f" at {endpoint_url}" if endpoint_url else "")
        if client is None:
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                aws_session_token=session_token,
                # Path-style works with every S3-compatible server, virtual-host style does not.
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
            )
        self.client = client

    def key_for(self, cid: str) -> str:
        return self.prefix + cid

    def _store(self, cid: str, data: bytes) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key_for(cid),
                Body=data,
                ContentType="application/octet-stream",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnreachable(f"{self.name}: could not store {cid}: {exc}") from exc

    def _load(self, cid: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key_for(cid))
            body: bytes = response["Body"].read()
            return body
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise DataUnavailable(f"{self.name}: no object {cid}") from None
            raise StoreUnreachable(f"{self.name}: could not read {cid}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnreachable(f"{self.name}: could not read {cid}: {exc}") from exc

    def _contains(self, cid: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(cid))
            return True
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise StoreUnreachable(f"{self.name}: could not look up {cid}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnreachable(f"{self.name}: could not look up {cid}: {exc}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

"""An in-memory S3 for the REST-XML wire protocol (path-style and virtual-hosted addressing).

Supported: CreateBucket, HeadBucket, PutObject (plain or aws-chunked bodies with a checksum
trailer, as botocore sends them), GetObject (with Range), HeadObject, CopyObject,
DeleteObject, DeleteObjects (every key answered as Deleted, as moto does), ListObjectsV2 (prefix, max-keys,
continuation) and multipart uploads
(CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class S3Object:
    data: bytes
    etag: str
    content_type: str
    modified: float


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **fields: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def header(headers: Any, name: str, default: str = "") -> str:
    """A request header as text (botocore keeps some as bytes)."""
    value = headers.get(name)
    if value is None:
        return default
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else str(value)


def read_body(body: Any, headers: Any) -> bytes:
    """The payload of a request: bytes, a file-like object, or an aws-chunked stream."""
    if body is None:
        return b""
    raw = body if isinstance(body, bytes | bytearray) else body.read()
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if "aws-chunked" in header(headers, "Content-Encoding"):
        return _decode_aws_chunked(bytes(raw))
    return bytes(raw)


def _decode_aws_chunked(raw: bytes) -> bytes:
    out = bytearray()
    position = 0
    while True:
        end = raw.index(b"\r\n", position)
        size = int(raw[position:end].split(b";")[0], 16)
        position = end + 2
        if size == 0:
            return bytes(out)
        out += raw[position:position + size]
        position += size + 2


class FakeS3:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.buckets: dict[str, dict[str, S3Object]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._upload_ids = itertools.count(1)

    # ------------------------------------------------------------------ the world's own look
    def get(self, bucket: str, key: str) -> bytes | None:
        with self.lock:
            found = self.buckets.get(bucket, {}).get(key)
            return found.data if found else None

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self.lock:
            return sorted(k for k in self.buckets.get(bucket, {}) if k.startswith(prefix))

    # ------------------------------------------------------------------ dispatch
    def handle(
        self, operation: str, method: str, url: str, headers: Any, body: Any
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        path = parts.path.lstrip("/")
        host = parts.hostname or ""
        if ".s3." in host and not host.startswith("s3."):     # virtual-hosted style: bucket.s3.amazonaws.com
            bucket, key = host.split(".s3.", 1)[0], unquote(path)
        else:                                                   # path style: s3.amazonaws.com/bucket/key
            bucket, _, key = path.partition("/")
            bucket, key = unquote(bucket), unquote(key)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise S3Error(501, "NotImplemented", f"{operation} is not supported by the fake")
        with self.lock:
            if operation not in ("CreateBucket",) and bucket not in self.buckets:
                raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
            return handler(bucket, key, query, headers, body)

    def _object(self, bucket: str, key: str) -> S3Object:
        found = self.buckets[bucket].get(key)
        if found is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return found

    def _put(self, bucket: str, key: str, data: bytes, content_type: str) -> S3Object:
        stored = S3Object(data, f'"{hashlib.md5(data).hexdigest()}"', content_type, self.clock())
        self.buckets[bucket][key] = stored
        return stored

    def _meta_headers(self, stored: S3Object) -> dict[str, str]:
        return {
            "ETag": stored.etag,
            "Content-Type": stored.content_type,
            "Last-Modified": formatdate(stored.modified, usegmt=True),
            "Accept-Ranges": "bytes",
        }

    # ------------------------------------------------------------------ operations
    def op_CreateBucket(self, bucket, key, query, headers, body):
        self.buckets.setdefault(bucket, {})
        return 200, {"Location": f"/{bucket}"}, b""

    def op_HeadBucket(self, bucket, key, query, headers, body):
        return 200, {}, b""

    def op_PutObject(self, bucket, key, query, headers, body):
        content_type = header(headers, "Content-Type", "binary/octet-stream")
        stored = self._put(bucket, key, read_body(body, headers), content_type)
        return 200, {"ETag": stored.etag}, b""

    def op_GetObject(self, bucket, key, query, headers, body):
        stored = self._object(bucket, key)
        data = stored.data
        meta = self._meta_headers(stored)
        requested = header(headers, "Range")
        if requested:
            start_text, _, end_text = requested.removeprefix("bytes=").partition("-")
            start = int(start_text) if start_text else max(0, len(data) - int(end_text))
            end = min(len(data) - 1, int(end_text)) if end_text and start_text else len(data) - 1
            chunk = data[start:end + 1]
            meta.update({"Content-Range": f"bytes {start}-{end}/{len(data)}", "Content-Length": str(len(chunk))})
            return 206, meta, chunk
        meta["Content-Length"] = str(len(data))
        return 200, meta, data

    def op_HeadObject(self, bucket, key, query, headers, body):
        stored = self.buckets[bucket].get(key)
        if stored is None:
            raise S3Error(404, "404", "Not Found")
        return 200, {**self._meta_headers(stored), "Content-Length": str(len(stored.data))}, b""

    def op_CopyObject(self, bucket, key, query, headers, body):
        source = unquote(header(headers, "x-amz-copy-source").lstrip("/"))
        source_bucket, _, source_key = source.partition("/")
        if source_bucket not in self.buckets:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=source_bucket)
        original = self._object(source_bucket, source_key)
        stored = self._put(bucket, key, original.data, original.content_type)
        xml = (f'<CopyObjectResult xmlns="{_XMLNS}"><LastModified>{_iso(stored.modified)}</LastModified>'
               f"<ETag>{escape(stored.etag)}</ETag></CopyObjectResult>")
        return 200, {}, xml.encode()

    def op_DeleteObject(self, bucket, key, query, headers, body):
        self.buckets[bucket].pop(key, None)
        return 204, {}, b""

    def op_DeleteObjects(self, bucket, key, query, headers, body):
        try:
            request = ElementTree.fromstring(read_body(body, headers))
        except ElementTree.ParseError as exc:
            raise S3Error(400, "MalformedXML", f"The XML you provided was not well-formed: {exc}") from exc
        # botocore sends the namespace; take the local names whatever it is.
        local = {element: element.tag.rsplit("}", 1)[-1] for element in request.iter()}
        keys = [child.text or "" for element in request.iter() if local[element] == "Object"
                for child in element if local[child] == "Key"]
        if not keys or len(keys) > 1000:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate "
                                               "against our published schema")
        for name in keys:
            self.buckets[bucket].pop(name, None)   # a key that is not there counts as deleted, as in S3
        deleted = "".join(f"<Deleted><Key>{escape(name)}</Key></Deleted>" for name in keys)
        return 200, {}, f'<DeleteResult xmlns="{_XMLNS}">{deleted}</DeleteResult>'.encode()

    def op_ListObjectsV2(self, bucket, key, query, headers, body):
        prefix = query.get("prefix", "")
        limit = int(query.get("max-keys", "1000"))
        after = query.get("continuation-token") or query.get("start-after") or ""
        keys = [k for k in sorted(self.buckets[bucket]) if k.startswith(prefix) and k > after]
        page, truncated = keys[:limit], len(keys) > limit
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key><LastModified>{_iso(self.buckets[bucket][k].modified)}</LastModified>"
            f"<ETag>{escape(self.buckets[bucket][k].etag)}</ETag><Size>{len(self.buckets[bucket][k].data)}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for k in page
        )
        token = f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>" if truncated else ""
        xml = (f'<ListBucketResult xmlns="{_XMLNS}"><Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>'
               f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
               f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{contents}{token}</ListBucketResult>")
        return 200, {}, xml.encode()

    def op_CreateMultipartUpload(self, bucket, key, query, headers, body):
        upload_id = f"upload-{next(self._upload_ids)}"
        self.uploads[upload_id] = {"bucket": bucket, "key": key, "parts": {},
                                   "content_type": header(headers, "Content-Type", "binary/octet-stream")}
        xml = (f'<InitiateMultipartUploadResult xmlns="{_XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
               f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>")
        return 200, {}, xml.encode()

    def _upload(self, query: dict[str, str]) -> dict[str, Any]:
        upload = self.uploads.get(query.get("uploadId", ""))
        if upload is None:
            raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
        return upload

    def op_UploadPart(self, bucket, key, query, headers, body):
        upload = self._upload(query)
        data = read_body(body, headers)
        upload["parts"][int(query["partNumber"])] = data
        return 200, {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}, b""

    def op_CompleteMultipartUpload(self, bucket, key, query, headers, body):
        upload = self._upload(query)
        data = b"".join(upload["parts"][number] for number in sorted(upload["parts"]))
        stored = self._put(bucket, key, data, upload["content_type"])
        del self.uploads[query["uploadId"]]
        xml = (f'<CompleteMultipartUploadResult xmlns="{_XMLNS}"><Location>/{escape(bucket)}/{escape(key)}</Location>'
               f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>{escape(stored.etag)}</ETag>"
               "</CompleteMultipartUploadResult>")
        return 200, {}, xml.encode()

    def op_AbortMultipartUpload(self, bucket, key, query, headers, body):
        self.uploads.pop(query.get("uploadId", ""), None)
        return 204, {}, b""


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def error_xml(error: S3Error) -> bytes:
    extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in error.fields.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{error.code}</Code>'
            f"<Message>{escape(error.message)}</Message>{extra}</Error>").encode()

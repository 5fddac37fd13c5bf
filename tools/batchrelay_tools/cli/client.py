"""A small HTTP client for the batchrelay API (the same against local mode and a deployed stack)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

DEFAULT_URL = "http://127.0.0.1:8787"
ENV_URL = "BATCHRELAY_URL"
ENV_API_KEY = "BATCHRELAY_API_KEY"
# Answers that mean "try again": the gateway or the function had a moment.
_RETRY_STATUSES = frozenset({502, 503, 504})
# Parts of a multipart upload sent at once, and tries per part.
PART_WORKERS = 4
PART_ATTEMPTS = 3
# A part URL this close to its expiry is renewed before it is used.
_RENEW_MARGIN_S = 60
# Codes for API Gateway's own answers, which carry {"message": ...} and no code.
_GATEWAY_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    429: "throttled",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error answer from the API (or no answer at all)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.line = line

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        hint = " (check the API key: --api-key or BATCHRELAY_API_KEY)" if status in (401, 403) else ""
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            err = payload["error"]
            return cls(
                str(err.get("code") or _GATEWAY_CODES.get(status, f"http_{status}")),
                str(err.get("message") or response.reason_phrase) + hint,
                status=status,
                field=err.get("field"),
                line=err.get("line"),
            )
        if isinstance(payload, dict) and payload.get("message"):
            message = str(payload["message"])
        else:
            message = (response.text or response.reason_phrase or "").strip().splitlines()[0:1]
            message = message[0][:200] if message else f"HTTP {status}"
        return cls(_GATEWAY_CODES.get(status, f"http_{status}"), message + hint, status=status)


class ApiClient:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._transport = transport
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"x-api-key": api_key, "user-agent": "batchrelay-cli"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---
    def request(self, method: str, path: str, *, retry: bool = False, **kwargs: Any) -> Any:
        """One API call; JSON answer or None (204). ``retry`` repeats it once after a
        connection failure or a 502/503/504 (safe for reads and idempotent writes)."""
        attempts = 2 if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt < attempts:
                    continue
                raise ApiError("connection_failed", f"cannot reach {self.base_url}: {_describe(exc)}") from exc
            if response.status_code in _RETRY_STATUSES and attempt < attempts:
                continue
            if response.status_code >= 400:
                raise ApiError.from_response(response)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise ApiError("bad_response", f"the API answered {response.status_code} with non-JSON") from exc
        raise AssertionError("unreachable")

    # --- jobs ---
    def create_job(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        # Safe to repeat: the same Idempotency-Key yields the same job.
        return self.request("POST", "/v1/jobs", json=body, headers=headers, retry=True)

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}", retry=True)

    def list_jobs(self, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> Any:
        params = {k: v for k, v in {"status": status, "limit": limit, "cursor": cursor}.items() if v is not None}
        return self.request("GET", "/v1/jobs", params=params, retry=True)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/jobs/{job_id}/cancel", retry=True)

    def delete_job(self, job_id: str) -> dict[str, Any]:
        # Safe to repeat: a second DELETE answers the progress (or 404 once all is gone).
        return self.request("DELETE", f"/v1/jobs/{job_id}", retry=True)

    def job_results(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}/results", retry=True)

    def deliveries(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}/deliveries", retry=True)

    # --- uploads ---
    def create_upload(self, size: int | None = None, part_size: int | None = None) -> dict[str, Any]:
        """One presigned PUT; with ``size``, a multipart upload (a URL per part)."""
        body = {key: value for key, value in {"size": size, "part_size": part_size}.items() if value is not None}
        return self.request("POST", "/v1/uploads", json=body or None, retry=True)

    def renew_part_urls(self, upload_id: str, part_numbers: list[int]) -> dict[str, Any]:
        return self.request("POST", f"/v1/uploads/{upload_id}/parts", json={"part_numbers": part_numbers}, retry=True)

    def complete_upload(self, upload_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        # Safe to repeat: completing a completed upload answers the same.
        return self.request("POST", f"/v1/uploads/{upload_id}/complete", json={"parts": parts}, retry=True)

    def put_upload(self, upload: dict[str, Any], path: Path) -> None:
        """Stream the file to the presigned URL (S3 wants a Content-Length, not chunks)."""
        headers = dict(upload.get("headers") or {})
        headers["Content-Length"] = str(path.stat().st_size)
        method = upload.get("method", "PUT")
        try:
            with path.open("rb") as f:
                response = httpx.request(
                    method, upload["url"], content=_blocks(f), headers=headers, timeout=httpx.Timeout(300.0)
                )
        except httpx.TransportError as exc:
            raise ApiError("upload_failed", f"uploading {path} failed: {_describe(exc)}") from exc
        if response.status_code >= 300:
            raise ApiError(
                "upload_failed",
                f"uploading {path} failed: HTTP {response.status_code} {_s3_error(response.text)}",
                status=response.status_code,
            )

    def put_parts(
        self, upload: dict[str, Any], path: Path, progress: Callable[[int], None] | None = None
    ) -> list[dict[str, Any]]:
        """Send each part of the file to its URL, a few at once, each tried up to three times;
        returns the parts to complete the upload with. URLs near their expiry (or refused as
        expired) are renewed first. ``progress`` gets the number of parts sent so far."""
        parts = _PartSender(self, upload, path, progress)
        with httpx.Client(timeout=httpx.Timeout(300.0), transport=self._transport) as http, \
                ThreadPoolExecutor(max_workers=PART_WORKERS) as pool:
            return list(pool.map(lambda number: parts.send(http, number), sorted(parts.urls)))

    # --- downloads ---
    def download(self, url: str, out: Any, progress: Callable[[int], None] | None = None) -> int:
        """Stream a presigned URL into a binary file object; returns the bytes written."""
        written = 0
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(300.0)) as response:
                if response.status_code >= 300:
                    response.read()
                    raise ApiError(
                        "download_failed",
                        f"HTTP {response.status_code} {_s3_error(response.text)}",
                        status=response.status_code,
                    )
                for block in response.iter_bytes():
                    out.write(block)
                    written += len(block)
                    if progress:
                        progress(written)
        except httpx.TransportError as exc:
            raise ApiError("download_failed", f"downloading results failed: {_describe(exc)}") from exc
        return written

    # --- webhook endpoints ---
    def add_webhook(self, url: str, event_types: list[str] | None, description: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url}
        if event_types:
            body["event_types"] = event_types
        if description:
            body["description"] = description
        return self.request("POST", "/v1/webhook-endpoints", json=body)

    def list_webhooks(self) -> dict[str, Any]:
        return self.request("GET", "/v1/webhook-endpoints", retry=True)

    def remove_webhook(self, endpoint_id: str) -> None:
        self.request("DELETE", f"/v1/webhook-endpoints/{endpoint_id}", retry=True)

    def test_webhook(self, endpoint_id: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")


def _blocks(f: Any, size: int = 1024 * 1024, limit: int | None = None) -> Any:
    left = limit
    while left is None or left > 0:
        block = f.read(size if left is None else min(size, left))
        if not block:
            return
        if left is not None:
            left -= len(block)
        yield block


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class _PartSender:
    """The parts of one multipart upload: their URLs (renewed when they expire) and sending one."""

    def __init__(
        self, client: ApiClient, upload: dict[str, Any], path: Path, progress: Callable[[int], None] | None
    ) -> None:
        self.client = client
        self.upload_id = upload["upload_id"]
        self.path = path
        self.size = path.stat().st_size
        self.part_size = int(upload["part_size"])
        self.urls = {int(part["part_number"]): part["url"] for part in upload["parts"]}
        self.expires = _epoch(upload["expires_at"])
        self.progress = progress
        self.sent: set[int] = set()
        self._lock = threading.Lock()

    def _url(self, number: int, *, renew: bool = False) -> str:
        with self._lock:
            if renew or time.time() > self.expires - _RENEW_MARGIN_S:
                unsent = sorted(n for n in self.urls if n not in self.sent)
                fresh = self.client.renew_part_urls(self.upload_id, unsent)
                self.urls.update({int(part["part_number"]): part["url"] for part in fresh["parts"]})
                self.expires = _epoch(fresh["expires_at"])
            return self.urls[number]

    def _body(self, f: BinaryIO, number: int) -> tuple[Iterator[bytes], int]:
        start = (number - 1) * self.part_size
        length = max(0, min(self.part_size, self.size - start))
        f.seek(start)
        return _blocks(f, limit=length), length

    def send(self, http: httpx.Client, number: int) -> dict[str, Any]:
        renew = False
        problem = ""
        for _ in range(PART_ATTEMPTS):
            try:
                with self.path.open("rb") as f:
                    body, length = self._body(f, number)
                    response = http.put(self._url(number, renew=renew), content=body,
                                        headers={"Content-Length": str(length)})
            except httpx.TransportError as exc:
                problem = _describe(exc)
                continue
            if response.status_code < 300 and response.headers.get("ETag"):
                with self._lock:
                    self.sent.add(number)
                    if self.progress:
                        self.progress(len(self.sent))
                return {"part_number": number, "etag": response.headers["ETag"]}
            problem = f"HTTP {response.status_code} {_s3_error(response.text)}"
            renew = response.status_code == 403   # most likely an expired URL
            if response.status_code < 500 and not renew:
                break
        raise ApiError("upload_failed", f"uploading part {number} of {self.path} failed: {problem}")


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _s3_error(text: str) -> str:
    """The <Code> and <Message> of an S3 XML error, if that is what it is."""
    code = re.search(r"<Code>([^<]*)</Code>", text or "")
    message = re.search(r"<Message>([^<]*)</Message>", text or "")
    parts = [m.group(1) for m in (code, message) if m]
    return ": ".join(parts) if parts else (text or "").strip()[:200]

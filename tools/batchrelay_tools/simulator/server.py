"""HTTP front of the simulator: OpenAI Files + Batches, Anthropic Message Batches, control routes.

Plain stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive, because the faults
need byte-level control of the socket (throttled bodies, connections closed mid-body).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from batchrelay_tools.simulator import answers, plugins
from batchrelay_tools.simulator import providers as _providers  # noqa: F401  (registers them)
from batchrelay_tools.simulator.settings import SimulatorSettings
from batchrelay_tools.simulator.state import ApiError, Simulator

log = logging.getLogger(__name__)

# (method, path pattern, route name used in stats, handler method)
ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    (m, re.compile(p), f"{m} {name}", h)
    for m, p, name, h in [
        ("POST", r"^/v1/files$", "/v1/files", "openai_upload"),
        ("GET", r"^/v1/files/(?P<id>[^/]+)$", "/v1/files/{id}", "openai_file"),
        ("GET", r"^/v1/files/(?P<id>[^/]+)/content$", "/v1/files/{id}/content", "openai_file_content"),
        ("DELETE", r"^/v1/files/(?P<id>[^/]+)$", "/v1/files/{id}", "openai_file_delete"),
        ("POST", r"^/v1/batches$", "/v1/batches", "openai_create"),
        ("GET", r"^/v1/batches$", "/v1/batches", "openai_list"),
        ("GET", r"^/v1/batches/(?P<id>[^/]+)$", "/v1/batches/{id}", "openai_get"),
        ("POST", r"^/v1/batches/(?P<id>[^/]+)/cancel$", "/v1/batches/{id}/cancel", "openai_cancel"),
        ("POST", r"^/v1/messages/batches$", "/v1/messages/batches", "anthropic_create"),
        ("GET", r"^/v1/messages/batches$", "/v1/messages/batches", "anthropic_list"),
        ("GET", r"^/v1/messages/batches/(?P<id>[^/]+)$", "/v1/messages/batches/{id}", "anthropic_get"),
        ("POST", r"^/v1/messages/batches/(?P<id>[^/]+)/cancel$", "/v1/messages/batches/{id}/cancel",
         "anthropic_cancel"),
        ("GET", r"^/v1/messages/batches/(?P<id>[^/]+)/results$", "/v1/messages/batches/{id}/results",
         "anthropic_results"),
        ("GET", r"^/_sim/stats$", "/_sim/stats", "sim_stats"),
        ("GET", r"^/_sim/files$", "/_sim/files", "sim_files"),
        ("POST", r"^/_sim/stats/reset$", "/_sim/stats/reset", "sim_stats_reset"),
        ("GET", r"^/_sim/config$", "/_sim/config", "sim_get_config"),
        ("POST", r"^/_sim/config$", "/_sim/config", "sim_config"),
    ]
]


def _is_anthropic(path: str) -> bool:
    return path.startswith("/v1/messages")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "batchrelay-simulator/1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, each answer on a
    # kept-alive connection waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections end instead of pinning a thread forever
    sim: Simulator  # set on the subclass the server builds

    # -------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        body = self._read_body()
        found = plugins.find(path, method)
        if found is not None:
            self._dispatch_plugin(path, body, *found)
            return
        for route_method, pattern, name, handler in ROUTES:
            match = pattern.match(path)
            if route_method == method and match:
                self.sim.count_call(name)
                try:
                    if not path.startswith("/_sim") and not self._authorized(path):
                        raise ApiError(401, "Missing or invalid API key.", code="invalid_api_key")
                    getattr(self, handler)(body, **match.groupdict())
                except ApiError as exc:
                    self._send_error(path, exc)
                except (ValueError, TypeError) as exc:
                    self._send_error(path, ApiError(400, str(exc)))
                except Exception as exc:  # a simulator bug should look like a 500, not a hang
                    log.exception("simulator handler failed")
                    self._send_error(path, ApiError(500, f"simulator error: {exc}"))
                return
        self.sim.count_call(f"{method} (unknown)")
        self._send_error(path, ApiError(404, f"Unknown route {method} {path}"))

    def _dispatch_plugin(self, path: str, body: bytes, plugin: Any, route: Any, groups: dict[str, str]) -> None:
        self.sim.count_call(route.name)
        try:
            if not plugin.authorized({k.lower(): v for k, v in self.headers.items()}):
                raise ApiError(401, "Missing or invalid credentials.", code="unauthenticated")
            route.handler(self, self.sim.extension(plugin), body, **groups)
        except ApiError as exc:
            self._send_error(path, exc)
        except (ValueError, TypeError) as exc:
            self._send_error(path, ApiError(400, str(exc)))
        except Exception as exc:  # a simulator bug should look like a 500, not a hang
            log.exception("simulator handler failed")
            self._send_error(path, ApiError(500, f"simulator error: {exc}"))

    # The helpers a plugin's route handlers use (simulator/plugins.py).
    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, obj, headers)

    def json_body(self, body: bytes) -> dict[str, Any]:
        return self._json_body(body)

    def send_download(self, payload: bytes, content_type: str) -> None:
        self._send_download(payload, content_type)

    def base_url(self) -> str:
        return self._base_url()

    def check_create_fault(self) -> None:
        self._check_create_fault()

    def lose_create_answer(self) -> None:
        self._lose_create_answer()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self, path: str) -> bool:
        if _is_anthropic(path):
            return bool(self.headers.get("x-api-key") or self.headers.get("Authorization"))
        authorization = self.headers.get("Authorization") or ""
        return authorization.startswith("Bearer ") and len(authorization) > len("Bearer ")

    def _json_body(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise ApiError(400, f"Invalid JSON body: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "The body must be a JSON object")
        return data

    def _base_url(self) -> str:
        return f"http://{self.headers.get('Host') or '127.0.0.1'}"

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        request_id = {"request-id" if _is_anthropic(self.path) else "x-request-id": f"req_sim_{time.time_ns()}"}
        self._send(status, json.dumps(obj).encode(), "application/json", {**request_id, **(headers or {})})

    def _send_error(self, path: str, exc: ApiError) -> None:
        headers = {}
        if exc.status == 429 or exc.status >= 500:
            # Tell SDKs how long to wait, so their retries stay quick in tests.
            headers["retry-after-ms"] = str(int(self.sim.settings.retry_after_seconds * 1000))
        plugin = plugins.plugin_for(path)
        if plugin is not None and plugin.error_body is not None:
            body = plugin.error_body(exc.status, exc.message, exc.code)
        elif _is_anthropic(path):
            body = answers.anthropic_error_body(exc.status, exc.message)
        else:
            body = {"error": {"message": exc.message, "type": answers.openai_error_body(exc.status)["error"]["type"],
                              "param": exc.param, "code": exc.code}}
        self._send_json(exc.status, body, headers)

    def _send_download(self, payload: bytes, content_type: str) -> None:
        """Send a result file, honouring the throttle and cut-off faults."""
        settings = self.sim.settings
        cut = self.sim.consume("cut_downloads_next")
        limit = int(len(payload) * settings.cut_after_fraction) if cut else len(payload)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        rate = settings.download_bytes_per_second
        step = max(1, int(rate / 20)) if rate else 64 * 1024
        sent = 0
        while sent < limit:
            block = payload[sent : min(limit, sent + step)]
            self.wfile.write(block)
            self.wfile.flush()
            sent += len(block)
            if rate:
                time.sleep(len(block) / rate)
        if cut:
            # Announced Content-Length, delivered less, then hang up: the client sees a broken body.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _check_create_fault(self) -> None:
        if self.sim.consume("create_errors_next"):
            status = self.sim.settings.create_error_status
            raise ApiError(status, f"Simulated HTTP {status} on batch create.",
                           code="rate_limit_exceeded" if status == 429 else None)

    def _lose_create_answer(self) -> None:
        """Called after a batch was made: the answer is lost (a 500) when the fault is armed."""
        if self.sim.consume("lost_create_answers_next"):
            raise ApiError(500, "Simulated: the batch was created, but the answer was lost.")

    # -------------------------------------------------------------- OpenAI
    def openai_upload(self, body: bytes) -> None:
        fields, files = _parse_multipart(self.headers.get("Content-Type", ""), body)
        if "file" not in files:
            raise ApiError(400, "Missing file field", param="file")
        filename, data = files["file"]
        stored = self.sim.create_file(filename, fields.get("purpose", ""), data)
        self._send_json(200, stored.to_api())

    def openai_file(self, body: bytes, id: str) -> None:
        self._send_json(200, self.sim.get_file(id).to_api())

    def openai_file_content(self, body: bytes, id: str) -> None:
        self._send_download(self.sim.get_file(id).data, "application/octet-stream")

    def openai_file_delete(self, body: bytes, id: str) -> None:
        self._send_json(200, self.sim.delete_file(id))

    def openai_create(self, body: bytes) -> None:
        self._check_create_fault()
        created = self.sim.create_openai_batch(self._json_body(body))
        self._lose_create_answer()
        self._send_json(200, created)

    def openai_list(self, body: bytes) -> None:
        limit = max(1, min(100, int(self.query.get("limit", 20))))
        self._send_json(200, self.sim.list_openai_batches(self.query.get("after"), limit))

    def openai_get(self, body: bytes, id: str) -> None:
        self._send_json(200, self.sim.get_openai_batch(id))

    def openai_cancel(self, body: bytes, id: str) -> None:
        self._send_json(200, self.sim.cancel_openai_batch(id))

    # -------------------------------------------------------------- Anthropic
    def anthropic_create(self, body: bytes) -> None:
        self._check_create_fault()
        created = self.sim.create_anthropic_batch(self._json_body(body), self._base_url())
        self._lose_create_answer()
        self._send_json(200, created)

    def anthropic_list(self, body: bytes) -> None:
        limit = max(1, min(1000, int(self.query.get("limit", 20))))
        self._send_json(200, self.sim.list_anthropic_batches(
            self.query.get("before_id"), self.query.get("after_id"), limit, self._base_url()))

    def anthropic_get(self, body: bytes, id: str) -> None:
        self._send_json(200, self.sim.get_anthropic_batch(id, self._base_url()))

    def anthropic_cancel(self, body: bytes, id: str) -> None:
        self._send_json(200, self.sim.cancel_anthropic_batch(id, self._base_url()))

    def anthropic_results(self, body: bytes, id: str) -> None:
        self._send_download(self.sim.anthropic_results(id), "application/x-jsonl")

    # -------------------------------------------------------------- control
    def sim_stats(self, body: bytes) -> None:
        self._send_json(200, self.sim.stats())

    def sim_files(self, body: bytes) -> None:
        self._send_json(200, self.sim.file_ledger())

    def sim_stats_reset(self, body: bytes) -> None:
        self.sim.reset_stats()
        self._send_json(200, self.sim.stats())

    def sim_get_config(self, body: bytes) -> None:
        self._send_json(200, self.sim.settings.to_dict())

    def sim_config(self, body: bytes) -> None:
        with self.sim.lock:
            self.sim.settings.update(self._json_body(body))
        self._send_json(200, self.sim.settings.to_dict())


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Split a multipart/form-data body into text fields and (filename, bytes) file fields."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        raise ApiError(400, "Expected multipart/form-data with a boundary")
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        head, _, data = part.partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        disposition = next((line for line in head.decode("utf-8", "replace").split("\r\n")
                            if line.lower().startswith("content-disposition")), "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name:
            continue
        if filename:
            files[name.group(1)] = (filename.group(1), data)
        else:
            fields[name.group(1)] = data.decode("utf-8")
    return fields, files


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for idle keep-alive connections on shutdown
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a closed keep-alive connection, a dropped call) is normal.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SimulatorServer:
    """The simulator on loopback in a background thread.

    ``with SimulatorServer(SimulatorSettings(processing_seconds=0.2)) as sim:``
    then point the SDKs at ``sim.base_url_openai`` / ``sim.base_url_anthropic``.
    """

    def __init__(self, settings: SimulatorSettings | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] | None = None):
        self.simulator = Simulator(settings or SimulatorSettings(), clock=clock)  # type: ignore[arg-type]
        handler = type("SimulatorHandler", (_Handler,), {"sim": self.simulator})
        self._httpd = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    def start(self) -> SimulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="provider-simulator", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- addresses and knobs
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url_openai(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def base_url_anthropic(self) -> str:
        return self.base_url

    @property
    def settings(self) -> SimulatorSettings:
        return self.simulator.settings

    def configure(self, **changes: Any) -> None:
        """Change settings at runtime (same as POST /_sim/config)."""
        with self.simulator.lock:
            self.simulator.settings.update(changes)

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()

    def file_ledger(self) -> dict[str, list[dict[str, Any]]]:
        """Live and deleted files (same as GET /_sim/files)."""
        return self.simulator.file_ledger()

    def calls(self, route: str) -> int:
        """Calls so far to a route, e.g. ``calls("GET /v1/batches")``."""
        return self.simulator.stats()["routes"].get(route, 0)

    def reset_stats(self) -> None:
        self.simulator.reset_stats()

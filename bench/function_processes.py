"""Each function of the local stack in a child process of its own, standing in for its
Lambda container: the handler is imported there once and invocations run there one at a
time. The child reports its resident-set high-water mark (VmHWM: interpreter, libraries
and every invocation so far) and the wall time its invocations took (Lambda bills that).

``FunctionProcesses.invoke`` has the signature of ``LocalStack(invoke=...)``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

UA_APP_ID_PREFIX = "batchrelay-"


def peak_rss_mb() -> float:
    """This process's own RSS high-water mark (ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as status:
        for row in status:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _serve(function: str, conn: Connection) -> None:
    """The child: load the handler, then run invocations until told to stop."""
    os.environ["AWS_SDK_UA_APP_ID"] = UA_APP_ID_PREFIX + function   # the emulator tells callers apart
    from batchrelay_tools.local.handler_loader import ensure_functions_on_path, load_handler
    from batchrelay_tools.local.lambda_context import context_for

    ensure_functions_on_path()
    started = time.perf_counter()
    handler = load_handler(function)
    init_s = time.perf_counter() - started
    busy_s, invocations = 0.0, 0
    while True:
        message = conn.recv()
        if message is None:
            return
        if message == "stats":
            conn.send({"function": function, "peak_mb": peak_rss_mb(), "busy_s": busy_s,
                       "invocations": invocations, "init_s": init_s})
            continue
        started = time.perf_counter()
        try:
            result = handler(message, context_for(function))
            answer: tuple[str, Any] = ("ok", result)
        except BaseException as exc:  # the runtime treats it as a failed invocation
            answer = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        busy_s += time.perf_counter() - started
        invocations += 1
        conn.send(answer)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    lock: threading.Lock


class FunctionFailed(RuntimeError):
    pass


class FunctionProcesses:
    def __init__(self) -> None:
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")

    def _worker(self, function: str) -> _Worker:
        with self._lock:
            worker = self._workers.get(function)
            if worker is None:
                parent, child = self._context.Pipe()
                # Started after the stack set the environment: the child inherits it.
                process = self._context.Process(target=_serve, args=(function, child), daemon=True,
                                                name=f"function-{function}")
                process.start()
                worker = self._workers[function] = _Worker(process, parent, threading.Lock())
            return worker

    def invoke(self, function: str, event: dict[str, Any], context: Any) -> Any:
        worker = self._worker(function)
        with worker.lock:
            worker.conn.send(event)
            status, value = worker.conn.recv()
        if status == "error":
            raise FunctionFailed(f"{function}: {value}")
        return value

    def stats(self) -> dict[str, dict[str, Any]]:
        out = {}
        for function, worker in list(self._workers.items()):
            with worker.lock:
                worker.conn.send("stats")
                out[function] = worker.conn.recv()
        return out

    def stop(self) -> None:
        for worker in self._workers.values():
            with worker.lock:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers.clear()

"""How the CLI shows errors, jobs and progress."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from batchrelay_tools.cli.client import ApiError

FINAL_OK = frozenset({"completed", "completed_with_errors"})
FINAL_BAD = frozenset({"failed", "cancelled", "expired"})
FINAL = FINAL_OK | FINAL_BAD


def error_line(err: ApiError, line_map: list[int] | None = None) -> str:
    """One line: ``error: invalid_request: requests[3].custom_id: ... (line 4)``.

    ``line_map`` turns the API's 1-based request number into the file's line number
    (they differ when the file has blank lines).
    """
    message = err.message
    if err.field and not message.startswith(err.field):
        message = f"{err.field}: {message}"
    text = f"error: {err.code}: {message}"
    if err.line is not None:
        line = err.line
        if line_map and 1 <= line <= len(line_map):
            line = line_map[line - 1]
        text += f" (line {line})"
    return " ".join(text.split())


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0 or seconds != seconds:
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def counts_text(job: dict[str, Any]) -> str:
    counts = job.get("counts") or {}
    total = counts.get("total", job.get("request_count", 0))
    done = total - counts.get("pending", 0)
    parts = [f"{done}/{total}", f"ok {counts.get('succeeded', 0)}", f"errored {counts.get('errored', 0)}"]
    for name in ("expired", "cancelled"):
        if counts.get(name):
            parts.append(f"{name} {counts[name]}")
    return " ".join(parts)


def job_summary(job: dict[str, Any]) -> str:
    lines = [
        f"{job['id']}  {job['status']}  {job.get('provider')} {job.get('endpoint')}",
        f"  requests  {counts_text(job)}  ({round(100 * float(job.get('progress') or 0))}%)",
    ]
    chunks = job.get("chunks") or []
    if chunks:
        retries = sum(1 for ch in chunks if (ch.get("attempt") or 1) > 1)
        states: dict[str, int] = {}
        for ch in chunks:
            states[str(ch.get("status"))] = states.get(str(ch.get("status")), 0) + 1
        detail = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        lines.append(f"  chunks    {len(chunks)} ({detail})" + (f", {retries} retries" if retries else ""))
    for pending in job.get("pending_batches") or []:
        # A provider may keep a batch queued for hours before it runs: say so, and for how long.
        lines.append(f"  waiting   {pending['batches']} batch(es) pending at {pending['provider']}, the oldest for "
                     f"{fmt_duration(pending['oldest_pending_age_s'])} (since {pending['oldest_pending_since']})")
    usage = job.get("usage") or {}
    if usage.get("total_tokens"):
        lines.append(
            f"  usage     {usage.get('input_tokens', 0)} in + {usage.get('output_tokens', 0)} out tokens"
        )
    cost = job.get("cost")
    if cost:
        lines.append(f"  cost      {cost_text(cost)}")
    results = job.get("results")
    if results and results.get("results_url"):
        lines.append(f"  results   batchrelay results {job['id']} -o {job['id']}.jsonl")
    validation = job.get("validation")
    if validation and not validation.get("done"):
        lines.append(f"  input     {validation_text(validation)}")
    if job.get("error"):
        err = job["error"]
        if isinstance(err, dict):
            where = ", ".join(f"{k} {err[k]}" for k in ("field", "line") if err.get(k) is not None)
            text = f"{err.get('code', '')}: {err.get('message', err)}"
            lines.append(f"  error     {text}" + (f" ({where})" if where else ""))
        else:
            lines.append(f"  error     {err}")
    return "\n".join(lines)


def fmt_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def validation_text(validation: dict[str, Any]) -> str:
    """How far the background check of an upload is: ``1.2 MB of 3.4 MB checked, 5000 requests``."""
    checked, total = validation.get("checked_bytes", 0), validation.get("size_bytes", 0)
    return f"{fmt_bytes(checked)} of {fmt_bytes(total)} checked, {validation.get('checked_requests', 0)} requests"


def cost_text(cost: dict[str, Any]) -> str:
    currency = cost.get("currency", "USD")
    on_demand = f"; {cost['on_demand']} of it on demand" if cost.get("on_demand") else ""
    return (f"{cost.get('batch')} {currency} (synchronous {cost.get('synchronous')}, saved {cost.get('saved')}"
            f"{on_demand})")


def jobs_table(jobs: list[dict[str, Any]]) -> str:
    rows = [("ID", "STATUS", "PROVIDER", "REQUESTS", "PROGRESS", "CREATED")]
    for job in jobs:
        rows.append(
            (
                job["id"],
                job["status"],
                str(job.get("provider", "")),
                str(job.get("request_count", "")),
                f"{round(100 * float(job.get('progress') or 0))}%",
                str(job.get("created_at", "")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


@dataclass
class Progress:
    """Progress with an ETA from the rate seen since the first sample."""

    started: float = field(default_factory=time.monotonic)
    first: tuple[float, int] | None = None

    def eta(self, job: dict[str, Any], now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if job.get("status") == "validating":
            return None   # requests are counted once validation ends: the rate starts then
        counts = job.get("counts") or {}
        total = counts.get("total", 0)
        done = total - counts.get("pending", 0)
        if self.first is None:
            self.first = (now, done)
            return None
        t0, d0 = self.first
        if done <= d0 or now <= t0:
            return None
        rate = (done - d0) / (now - t0)
        return (total - done) / rate

    def line(self, job: dict[str, Any], width: int = 30, now: float | None = None) -> str:
        eta = self.eta(job, now)
        validation = job.get("validation") if job.get("status") == "validating" else None
        if validation:
            # Validating an upload: the bar is the share of its bytes checked.
            size = validation.get("size_bytes") or 0
            progress = validation.get("checked_bytes", 0) / size if size else 0.0
            what = validation_text(validation)
        else:
            progress = float(job.get("progress") or 0)
            what = counts_text(job)
        progress = max(0.0, min(1.0, progress))
        filled = round(progress * width)
        bar = "#" * filled + "-" * (width - filled)
        elapsed = (time.monotonic() if now is None else now) - self.started
        return (
            f"[{bar}] {round(progress * 100):3d}%  {what}  {job['status']}  "
            f"elapsed {fmt_duration(elapsed)}  ETA {fmt_duration(eta)}"
        )

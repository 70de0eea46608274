"""Following an import's answer: the finished report, or its job watched until it ends."""

from __future__ import annotations

import time
from typing import Any

import httpx


def watch(client: httpx.Client, job: str, headers: dict[str, str],
          timeout: float = 300) -> dict[str, Any]:
    """The job's status document once the job has finished."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(job, headers=headers)
        assert answer.status_code == 200, answer.text
        doc: dict[str, Any] = answer.json()
        if doc["status"] not in ("accepted", "running"):
            return doc
        assert time.monotonic() < deadline, f"job still {doc['status']} after {timeout} s"
        time.sleep(0.2)


def settled(client: httpx.Client, response: httpx.Response, headers: dict[str, str],
            timeout: float = 300) -> tuple[int, dict[str, Any]]:
    """The import's final HTTP status and body: the answer itself, or, after a 202, what its job
    (at the Location) finally holds."""
    if response.status_code != 202:
        return response.status_code, response.json()
    doc = watch(client, response.headers["location"], headers, timeout)
    return int(doc["http_status"]), doc["result"]

"""A request body over `c.AutoCoderApp.max_request_bytes` is refused (413) from its headers,
before tornado reads it: the server's memory does not grow by the body's size."""

from __future__ import annotations

import asyncio
import select
import socket

import pytest
from bounds_support import MiB, memory_kib, reset_peak_memory

BODY_BYTES = 60 * MiB


def post_huge_body(port: int, path: str, authorization: str, size: int) -> tuple[int, bytes, int]:
    """POST `size` bytes (declared in Content-Length) to `path`, the way a client streams a
    file: the headers, then a pause for an early answer, then the body a MiB at a time.
    Returns (status, response body, body bytes sent)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {authorization}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    )
    connection.sendall(head.encode())
    chunk = b" " * MiB
    sent = 0
    readable, _, _ = select.select([connection], [], [], 3.0)
    try:
        while not readable and sent < size:
            connection.sendall(chunk[: min(MiB, size - sent)])
            sent += min(MiB, size - sent)
            readable, _, _ = select.select([connection], [], [], 0)
    except (BrokenPipeError, ConnectionResetError):
        pass
    response = b""
    try:
        while b"\r\n\r\n" not in response or len(response) < _expected_length(response):
            data = connection.recv(65536)
            if not data:
                break
            response += data
    finally:
        connection.close()
    head_part, _, body = response.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part else 0
    return status, body, sent


def _expected_length(response: bytes) -> int:
    head, _, _ = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":", 1)[1])
    return len(response) + 1


@pytest.mark.parametrize("route", ["v1/chat/completions", "models/load"])
async def test_a_huge_body_is_refused_before_it_is_read(
    route, autocoder, jp_http_port, jp_base_url, jp_auth_header
):
    # Before the fix: the 60 MB were read into memory (twice over), then answered 413.
    authorization = (
        f"Bearer {autocoder.proxy_key}"
        if route.startswith("v1/")
        else jp_auth_header["Authorization"]
    )
    path = f"{jp_base_url}autocoder/api/{route}"
    reset_peak_memory()
    before = memory_kib()
    status, body, sent = await asyncio.get_running_loop().run_in_executor(
        None, post_huge_body, jp_http_port, path, authorization, BODY_BYTES
    )
    peak_growth_mib = (memory_kib("VmHWM") - before) / 1024
    assert status == 413, body[:300]
    assert b"the limit is 4194304" in body
    assert peak_growth_mib < 20, (
        f"a {BODY_BYTES // MiB} MB body grew the server by {peak_growth_mib:.0f} MB"
    )
    assert sent < BODY_BYTES  # answered before the body was sent

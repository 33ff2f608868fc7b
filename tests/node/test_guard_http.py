"""Request guards over real HTTP against `flavum node run` (flavum/api/guard.py): oversized
bodies refused with 413 before they are read, browsers of other sites unable to drive the
node, operator endpoints behind the home's token, expensive endpoints rate-limited."""

import socket
import time

import httpx

from flavum.api.guard import load_token

from .conftest import NodeProcess
from .test_intake_http import rss_peak_mb


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, str]:
    """Send `head` and `body` on a fresh connection; the status and the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode() + body)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    text = reply.decode(errors="replace")
    return int(text.split()[1]), text


def test_a_declared_150_mb_body_is_refused_before_it_is_read(node: NodeProcess):
    node.start()
    assert node.proc is not None
    before = rss_peak_mb(node.proc.pid)
    port = node.config.port
    started = time.monotonic()
    status, reply = raw_request(port, (
        "POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 150000000\r\n\r\n"), b'{"raw": "0x')
    assert status == 413 and "body_too_large" in reply
    assert time.monotonic() - started < 5
    # Streamed without a length: cut off once past the limit (1 MiB here).
    with httpx.Client(timeout=30) as http:
        chunks = (b"x" * 65536 for _ in range(64))  # 4 MiB
        response = http.post(f"{node.config.api_url}/v1/data/commit", content=chunks,
                             headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert rss_peak_mb(node.proc.pid) - before < 50


def test_another_site_cannot_drive_the_node(node: NodeProcess):
    node.start()
    url = node.config.api_url
    token = load_token(node.config.home)
    with httpx.Client(timeout=10) as http:
        # The attack: a text/plain POST from a page the operator visits.
        foreign = http.post(f"{url}/v1/batches/seal", content=b"{}",
                            headers={"origin": "https://evil.example", "content-type": "text/plain",
                                     "authorization": f"Bearer {token}"})
        assert foreign.status_code == 403 and foreign.json()["error"] == "cross_origin"
        # DNS rebinding: evil.example resolved to 127.0.0.1, so Origin and Host agree.
        rebound = f"evil.example:{node.config.port}"
        rebinding = http.post(f"{url}/v1/batches/seal", headers={
            "origin": f"http://{rebound}", "host": rebound, "authorization": f"Bearer {token}"})
        assert rebinding.status_code == 403 and rebinding.json()["error"] == "cross_origin"
        plain = http.post(f"{url}/v1/transactions", content=b'{"raw": "0x00"}',
                          headers={"content-type": "text/plain"})
        assert plain.status_code == 415 and plain.json()["error"] == "not_json"
        anonymous = http.post(f"{url}/v1/batches/seal")
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
        wrong = http.post(f"{url}/v1/batches/seal", headers={"authorization": "Bearer 00"})
        assert wrong.status_code == 401
        own = http.post(f"{url}/v1/batches/seal", headers={
            "origin": url, "authorization": f"Bearer {token}"})
        assert own.status_code == 200, own.text
    assert (node.config.home / "api-token").stat().st_mode & 0o777 == 0o600


def test_compiling_is_rate_limited_per_client_with_retry_after(node: NodeProcess):
    node.start()
    url = f"{node.config.api_url}/v1/models/compile"
    statuses = []
    with httpx.Client(timeout=10) as http:
        for _ in range(12):
            response = http.post(url, json={"onnx": "AAAA", "calibration": [[0.0]]})
            statuses.append(response.status_code)
    assert 429 not in statuses[:8] and statuses[8:] == [429] * 4, statuses  # a burst of 8
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    assert response.json()["error"] == "rate_limited"

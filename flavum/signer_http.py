"""The HTTP face of a federation signer (flavum/signer.py): two routes, standard library only.

  POST /v1/cosign   a CosignRequest (flavum/l1/litecoin_federation.py) as JSON
                    200 {"tx": hex}: the transaction with this member's signature added
                    422 {"code": "payout_refused", "reason": ..., "message": ...}: refused
                    503 {"code": ..., "message": ...}: the signer's own node or store failed
  GET  /v1/signer   {"public_key", "threshold", "custody_address", "cosigned"}

A co-sign request is signed by the sequencer's anchor key (others are refused); it is only
ever a question: the signer checks everything itself.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flavum.core.errors import FlavumError
from flavum.l1.errors import PayoutRefused
from flavum.l1.litecoin_federation import COSIGN_PATH, CosignRequest
from flavum.signer import FederationSigner

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # a payout transaction and a Merkle proof are a few kilobytes


class SignerServer(ThreadingHTTPServer):
    """Serves one signer on (host, port); port 0 picks a free one (`url` says which)."""

    daemon_threads = True

    def __init__(self, signer: FederationSigner, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.signer = signer
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SignerServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="flavum-signer")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: SignerServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path != "/v1/signer":
            self._answer(404, {"code": "not_found", "message": f"no route {self.path}"})
            return
        try:
            info = self.server.signer.info()
        except FlavumError as exc:  # its own Litecoin node is out of reach
            self._answer(503, {"code": exc.code, "message": str(exc)})
            return
        self._answer(200, info)

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        if self.path != COSIGN_PATH:
            self._answer(404, {"code": "not_found", "message": f"no route {self.path}"})
            return
        try:
            size = int(self.headers.get("Content-Length", "0"))
            if not 0 < size <= MAX_BODY:
                raise PayoutRefused(f"a request body of {size} bytes", reason="malformed request")
            try:
                body = json.loads(self.rfile.read(size))
            except ValueError as exc:
                raise PayoutRefused("the request is not JSON",
                                    reason="malformed request") from exc
            tx = self.server.signer.cosign(CosignRequest.from_json(body))
        except PayoutRefused as exc:
            log.warning("refused to co-sign: %s", exc)
            self._answer(422, {"code": exc.code, "reason": exc.reason, "message": str(exc)})
            return
        except FlavumError as exc:  # its own Litecoin node or data store is out of reach
            log.warning("cannot co-sign now: %s", exc)
            self._answer(503, {"code": exc.code, "message": str(exc)})
            return
        self._answer(200, {"tx": tx})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the API's name
        log.info("%s %s", self.address_string(), format % args)

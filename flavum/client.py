"""Python client of a Flavum node's HTTP API; the CLI uses it.

Refusals come back as the same typed errors the node raised (by their `code`), so a script
catches `NonceMismatch` from a remote node exactly as from a local one.
"""

import base64
import time
from typing import Any

import httpx

from flavum.core.codec import from_hex, to_hex
from flavum.core.errors import FlavumError
from flavum.core.transactions import Body, Transaction, encode_transaction, sign_transaction
from flavum.core.types import Address, ChainId, Hash32, Nonce
from flavum.errors import error_for_code


class NodeUnreachable(FlavumError):
    """The CLI or client could not reach the node's API."""

    code = "node_unreachable"


class Client:
    """`token`: the node's operator token (its home's api-token), for operator endpoints."""

    RETRIES = 5  # of a request the node refused for now (429/503), after its Retry-After

    def __init__(self, url: str, timeout: float = 30.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for _ in range(self.RETRIES):
            response = self._request(method, path, **kwargs)
            wait = response.headers.get("retry-after", "")
            # 429/503 mean nothing was done: waiting and sending again is safe.
            if response.status_code not in (429, 503) or not wait.isdigit() or int(wait) > 60:
                break
            time.sleep(int(wait))
        if response.status_code >= 400:
            try:
                body = response.json()
                code, message = body["error"], body["message"]
            except (ValueError, KeyError, TypeError):
                code, message = "flavum_error", f"HTTP {response.status_code}: {response.text}"
            raise error_for_code(code)(message)
        return response.json()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            reason = "no answer in time" if isinstance(exc, httpx.TimeoutException) else (
                "connection refused" if isinstance(exc, httpx.ConnectError) else str(exc))
            raise NodeUnreachable(f"cannot reach the node at {self.url} ({reason}): is "
                                  "`flavum node run` running, and is --node right?") from exc

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/v1/status")  # type: ignore[no-any-return]

    def account(self, address: Address) -> dict[str, Any]:
        return self._call("GET", f"/v1/accounts/{to_hex(address)}")  # type: ignore[no-any-return]

    def object(self, object_id: bytes) -> dict[str, Any]:
        return self._call("GET", f"/v1/objects/{to_hex(object_id)}")  # type: ignore[no-any-return]

    def assets(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/assets")  # type: ignore[no-any-return]

    def batches(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/batches")  # type: ignore[no-any-return]

    def batch(self, number: int) -> dict[str, Any]:
        return self._call("GET", f"/v1/batches/{number}")  # type: ignore[no-any-return]

    def seal_batch(self) -> dict[str, Any]:
        return self._call("POST", "/v1/batches/seal")  # type: ignore[no-any-return]

    def submit(self, tx: Transaction) -> dict[str, Any]:
        raw = to_hex(encode_transaction(tx))
        return self._call("POST", "/v1/transactions", json={"raw": raw})  # type: ignore[no-any-return]

    def send(self, private_key: bytes, sender: Address, body: Body) -> dict[str, Any]:
        """Sign `body` with the sender's next nonce and the node's domain, and submit it."""
        status = self.status()
        nonce = self.account(sender)["nonce"]
        tx = Transaction(
            chain_id=ChainId(status["chain_id"]),
            rollup_id=Hash32(from_hex(status["rollup_id"], 32, "rollup_id")),
            sender=sender,
            nonce=Nonce(nonce),
            body=body,
        )
        return self.submit(sign_transaction(tx, private_key))

    # --- models, data, traces ---

    def compile_model(self, onnx_bytes: bytes, calibration: list[list[float]],
                      proven_output: str | None = None,
                      min_agreement: float | None = None, batch_size: int = 1,
                      input_visibility: str = "hashed") -> dict[str, Any]:
        body = {"onnx": base64.b64encode(onnx_bytes).decode(), "calibration": calibration,
                "proven_output": proven_output, "min_agreement": min_agreement,
                "batch_size": batch_size, "input_visibility": input_visibility}
        return self._call("POST", "/v1/models/compile", json=body)  # type: ignore[no-any-return]

    def compile_status(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/models/compile/{job_id}")  # type: ignore[no-any-return]

    def build_trainable(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/models/trainable", json=request)  # type: ignore[no-any-return]

    def trainable_status(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/models/trainable/{job_id}")  # type: ignore[no-any-return]

    def commit_row(self, model_id: str, features: list[float],
                   label: float | None) -> dict[str, Any]:
        body = {"model_id": model_id, "features": features, "label": label}
        return self._call("POST", "/v1/data/commit-row", json=body)  # type: ignore[no-any-return]

    def model(self, model_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/models/{model_id}")  # type: ignore[no-any-return]

    def lineage(self, model_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/v1/models/{model_id}/lineage")  # type: ignore[no-any-return]

    def models(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/models")  # type: ignore[no-any-return]

    def data_points(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/data")  # type: ignore[no-any-return]

    def commit_data(self, model_id: str, values: list[float]) -> dict[str, Any]:
        body = {"model_id": model_id, "values": values}
        return self._call("POST", "/v1/data/commit", json=body)  # type: ignore[no-any-return]

    def trace(self, tx_hash: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/traces/{tx_hash}")  # type: ignore[no-any-return]

    def traces_of(self, kind: str, key: str, limit: int = 50,
                  before: int | None = None) -> dict[str, Any]:
        """A page of the trace entries of a model, an object or an account (`kind`: models,
        objects or accounts), newest first; `before` is the previous page's `next_before`."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return self._call("GET", f"/v1/{kind}/{key}/traces", params=params)  # type: ignore[no-any-return]

    def proof(self, tx_hash: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/traces/{tx_hash}/proof")  # type: ignore[no-any-return]

    def verify_trace(self, tx_hash: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/traces/{tx_hash}/verify")  # type: ignore[no-any-return]

    # --- ledgers and withdrawals ---

    def ledgers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/ledgers")  # type: ignore[no-any-return]

    def withdrawal_proof(self, withdrawal_id: str) -> dict[str, Any]:
        path = f"/v1/withdrawals/{withdrawal_id}/proof"
        return self._call("GET", path)  # type: ignore[no-any-return]

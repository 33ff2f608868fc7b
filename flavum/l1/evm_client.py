"""Reaching an EVM node through web3.py: the two backends, one error mapping, signed sends.

The backends are the embedded in-process EVM (eth-tester on py-evm: no server, the default for
development and tests) and any JSON-RPC URL (anvil, a testnet, a mainnet node). Every
transaction is signed locally and sent with an explicit gas limit: `eth_estimateGas`
under-estimates ezkl verifiers (they return false instead of reverting when short of gas).
eth-tester's `TransactionFailed`, web3's `ContractLogicError`, a failed receipt and connection
errors all become one `LedgerError` carrying the revert reason. The compiled contracts come
from contracts/build/ (committed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from eth_account import Account

from flavum.l1.errors import LedgerError, LedgerUnreachable
from flavum.l1.solc import CONTRACTS_DIR

BUILD_DIR = CONTRACTS_DIR / "build"
EMBEDDED_BALANCE = 10**24  # wei given to each funded key of the embedded EVM


def load_artifact(name: str) -> dict[str, Any]:
    path = BUILD_DIR / f"{name}.json"
    if not path.is_file():
        raise LedgerError(f"missing contract artifact {name}.json (run contracts/build.py)")
    return json.loads(path.read_text())  # type: ignore[no-any-return]



# --- web3 backends ---------------------------------------------------------------------------


def embedded_web3(funded_keys: Sequence[bytes] = (), balance: int = EMBEDDED_BALANCE) -> Any:
    """An in-process EVM (eth-tester / py-evm, Prague rules, chain id 131277322940537),
    with eth-tester's ten default accounts and `funded_keys` each holding `balance` wei."""
    from eth_keys import keys
    from eth_tester import EthereumTester, PyEVMBackend
    from eth_tester.backends.pyevm.main import (
        generate_genesis_state_for_keys,
        get_default_account_keys,
    )
    from web3 import EthereumTesterProvider, Web3

    account_keys = list(get_default_account_keys()) + [keys.PrivateKey(k) for k in funded_keys]
    state = generate_genesis_state_for_keys(account_keys, overrides={"balance": balance})
    tester = EthereumTester(PyEVMBackend(genesis_state=state))
    return Web3(EthereumTesterProvider(tester))


def rpc_web3(url: str, timeout_s: float = 60.0) -> Any:
    """A JSON-RPC node (HTTP), e.g. anvil at http://127.0.0.1:8545."""
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout_s}))
    try:
        _ = w3.eth.chain_id
    except Exception as exc:
        raise LedgerUnreachable(f"no EVM node answers at {url}: {exc}") from exc
    return w3


# --- errors -----------------------------------------------------------------------------------


def _revert_reason(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc)
    for prefix in ("execution reverted: ", "execution reverted:", "execution reverted"):
        if prefix in text:
            return text.split(prefix, 1)[1].strip() or "reverted"
    return text


def _is_connection_error(exc: BaseException) -> bool:
    import requests
    from web3.exceptions import ProviderConnectionError, TimeExhausted

    return isinstance(exc, (OSError, requests.RequestException, ProviderConnectionError,
                            TimeExhausted))


def call_mapped(what: str, fn: Callable[[], Any]) -> Any:
    """Run a web3 call; raise LedgerError (reverts) or LedgerUnreachable (connection)."""
    from eth_tester.exceptions import TransactionFailed
    from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

    try:
        return fn()
    except BadFunctionCallOutput as exc:  # an empty answer: no contract code at the address
        raise LedgerError(f"{what}: no contract answered (is the deployment on this chain?)",
                          reason="no contract code") from exc
    except (TransactionFailed, ContractLogicError) as exc:
        reason = _revert_reason(exc)
        raise LedgerError(f"{what} reverted: {reason}", reason=reason) from exc
    except Web3RPCError as exc:
        reason = _revert_reason(exc)
        raise LedgerError(f"{what} failed: {reason}", reason=reason) from exc
    except LedgerError:
        raise
    except Exception as exc:
        if _is_connection_error(exc):
            raise LedgerUnreachable(f"{what}: the EVM node is unreachable: {exc}") from exc
        raise


def send_transaction(w3: Any, chain_id: int, key: bytes, tx: dict[str, Any], what: str,
                     timeout_s: float = 120.0) -> Any:
    """Sign `tx` ('to', 'data', 'value', 'gas') with `key`, send it, wait for its receipt.
    A revert becomes LedgerError with the reason (an RPC node mines a reverting transaction:
    it is replayed with eth_call for the reason)."""
    sender = Account.from_key(key).address

    def send() -> Any:
        full = dict(tx)
        full.setdefault("value", 0)
        full["from"] = sender
        full["chainId"] = chain_id
        full["nonce"] = w3.eth.get_transaction_count(sender, "pending")
        full["gasPrice"] = w3.eth.gas_price
        signed = Account.sign_transaction(full, key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s)
        if receipt["status"] != 1:
            replay = {k: full[k] for k in ("from", "to", "data", "value", "gas") if k in full}
            try:
                w3.eth.call(replay, block_identifier=receipt["blockNumber"] - 1)
            except Exception as exc:
                reason = _revert_reason(exc)
                raise LedgerError(f"{what} reverted: {reason}", reason=reason) from exc
            raise LedgerError(f"{what} failed (out of gas at {full['gas']}?)", reason="out of gas")
        return receipt

    return call_mapped(what, send)


def constructor_data(w3: Any, abi: list[Any], bytecode: bytes, args: Sequence[Any]) -> str:
    """Creation code: the bytecode followed by the ABI-encoded constructor arguments."""
    from eth_abi import encode

    inputs = next((item["inputs"] for item in abi if item["type"] == "constructor"), [])
    types = [i["type"] for i in inputs]
    values = [w3.to_checksum_address(v) if t == "address" else v
              for t, v in zip(types, args, strict=True)]
    return "0x" + (bytecode + encode(types, values)).hex()

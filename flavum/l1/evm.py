"""The EVM ledger: Rollup, ModelRegistry and Bridge contracts on one chain.

`EvmLedger` implements the `Ledger` interface over web3.py (evm_client.py: the embedded EVM or
a JSON-RPC node, one error mapping): the rollup contract verifies every inference proof of a
batch it accepts, the registry binds each model to its verifier (a model's own ezkl verifier,
compiled at run time by verifiers.py, or its VKA on the shared reusable one), the bridge takes
deposits and pays withdrawals that users finalize with their Merkle proofs. A batch's data can
ride in its own transaction (`submitBatchWithData`, flavum/da/evm_calldata.py). The escape
hatch's calls are in evm_escape.py, the roles' (sequencer rotation) in evm_roles.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flavum.core.assets import compute_deposit_id
from flavum.core.batch import (
    BatchHeader,
    TraceEntry,
    Withdrawal,
    compute_batch_hash,
    compute_tx_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.codec import to_hex
from flavum.core.merkle import compute_tree_proof
from flavum.core.step_witness import StepWitness
from flavum.core.stf import AnyExecution
from flavum.core.types import Address, Amount, AssetId, Hash32, ObjectId
from flavum.l1.errors import BondShort, ChainReset, LedgerError
from flavum.l1.evm_abi import header_from_abi, header_tuple, leaf_before, withdrawal_tuple
from flavum.l1.evm_client import call_mapped, constructor_data, load_artifact, send_transaction
from flavum.l1.evm_deployment import EvmDeployment
from flavum.l1.evm_escape import EvmEscapeHatch
from flavum.l1.evm_gas import GasPolicy
from flavum.l1.evm_models import EvmModels
from flavum.l1.evm_posting import decode_posted_txs, encode_posted_txs
from flavum.l1.evm_roles import EvmRoles
from flavum.l1.evm_step import execute_args
from flavum.l1.interface import (
    BatchRevert,
    BatchStatus,
    BatchTx,
    Bond,
    Capabilities,
    DepositEvent,
    ForcedInclusion,
    ForcedOutcome,
    ForcedRequest,
    Ledger,
    LedgerAddresses,
    LedgerQueues,
    ModelRegistration,
    PostedBatch,
    ProvenInference,
    proven_executions,
)
from flavum.l1.verifiers import REUSABLE_CONTRACT

# --- the ledger -------------------------------------------------------------------------------


class EvmLedger(EvmModels, EvmEscapeHatch, EvmRoles, Ledger):
    """The rollup's contracts on one EVM chain. `sequencer_key` signs batches and registrations."""

    capabilities = Capabilities(
        verifies_proofs=True, anchors_only=False, bridges_assets=True, bridges_objects=True,
        forced_inclusion=True, registers_models=True, pays_withdrawals=False,
        carries_batch_data=True, settles_by_fraud_proofs=True, escape_hatch=True,
    )

    def __init__(
        self, w3: Any, deployment: EvmDeployment, sequencer_key: bytes | None = None,
        gas: GasPolicy = GasPolicy(), receipt_timeout_s: float = 120.0,
    ) -> None:
        from flavum.core.assets import compute_ledger_id

        self.w3 = w3
        self.deployment = deployment
        self.sequencer_key = sequencer_key
        self.gas = gas
        self.receipt_timeout_s = receipt_timeout_s
        self.name = deployment.ledger_name
        self.ledger_id = compute_ledger_id(deployment.ledger_name)
        self.chain_id = int(call_mapped("chain id", lambda: w3.eth.chain_id))
        if self.chain_id != deployment.chain_id:
            raise LedgerError(
                f"deployment is for chain {deployment.chain_id}, the node is chain {self.chain_id}")
        self.rollup = self._contract("FlavumRollup", deployment.rollup)
        self.registry = self._contract("ModelRegistry", deployment.registry)
        self.bridge = self._contract("FlavumBridge", deployment.bridge)
        self.objects = self._contract("FlavumObjects", deployment.objects)
        self.reusable_verifier = (
            self._contract(REUSABLE_CONTRACT, deployment.reusable_verifier)
            if deployment.reusable_verifier else None
        )
        self.last_receipt: Any = None  # of the last transaction sent (gas measurements)
        # EVM calldata data availability (flavum/da/evm_calldata.py, whose BatchDataLedger
        # protocol this class meets): given a header's data pointer, the blob to post in the
        # batch transaction's calldata, or None.
        self.batch_data_source: Callable[[Hash32], bytes | None] | None = None
        self.data_location = f"{self.name}@{deployment.rollup}"

    def _contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address),
                                    abi=load_artifact(name)["abi"])

    # --- sending ---------------------------------------------------------------------------

    def _send(self, what: str, key: bytes, tx: dict[str, Any]) -> Any:
        receipt = send_transaction(self.w3, self.chain_id, key, tx, what, self.receipt_timeout_s)
        self.last_receipt = receipt
        return receipt

    def _transact(self, what: str, key: bytes, fn: Any, gas: int | None = None,
                  value: int = 0) -> Any:
        data = fn._encode_transaction_data()
        return self._send(what, key, {"to": fn.address, "data": data, "value": value,
                                      "gas": gas or self.gas.default})

    def _deploy(self, what: str, key: bytes, abi: list[Any], bytecode: bytes, args: Sequence[Any],
                gas: int) -> Any:
        data = constructor_data(self.w3, abi, bytecode, args)
        return self._send(what, key, {"data": data, "gas": gas})

    def _require_sequencer(self) -> bytes:
        if self.sequencer_key is None:
            raise LedgerError("this ledger handle has no sequencer key")
        return self.sequencer_key

    # --- chain reads -------------------------------------------------------------------------

    def head(self) -> int:
        return int(call_mapped("block number", lambda: self.w3.eth.block_number))

    def block_hash(self, number: int) -> Hash32 | None:
        from web3.exceptions import BlockNotFound

        def get() -> Hash32 | None:
            try:
                block = self.w3.eth.get_block(number)
            except BlockNotFound:
                return None
            return Hash32(bytes(block["hash"]))

        return call_mapped("block", get)  # type: ignore[no-any-return]

    def eth_balance(self, address: Address) -> int:
        checksum = self.w3.to_checksum_address(address)
        return int(call_mapped("balance", lambda: self.w3.eth.get_balance(checksum)))

    def addresses(self) -> LedgerAddresses:
        return LedgerAddresses(deployment=self.deployment.to_json())

    def check_deployment(self) -> None:
        code = call_mapped("code", lambda: self.w3.eth.get_code(self.rollup.address))
        if not code:
            raise ChainReset(f"the chain no longer holds the rollup's contracts (the deployment "
                             f"at {self.deployment.rollup} has no code)")

    # --- batches -----------------------------------------------------------------------------

    def next_batch_number(self) -> int:
        return int(call_mapped("nextBatchNumber", self.rollup.functions.nextBatchNumber().call))

    def genesis_state_root(self) -> Hash32:
        """The state root batch 0 starts from, as the rollup computed it from its genesis."""
        return Hash32(bytes(call_mapped("genesisStateRoot",
                                        self.rollup.functions.genesisStateRoot().call)))

    def batch_status(self, number: int) -> BatchStatus:
        if number >= self.next_batch_number():
            return BatchStatus(number, accepted=False)
        batch_hash, withdrawal_root, *_ = call_mapped(
            "batches", self.rollup.functions.batches(number).call)
        return BatchStatus(number, True, Hash32(batch_hash), Hash32(withdrawal_root),
                           self._posting_tx(number))

    def mine_to(self, block: int) -> None:
        """On a development chain (the embedded EVM, anvil): mine empty blocks up to `block`."""
        tester = getattr(self.w3.provider, "ethereum_tester", None)
        while self.head() < block:
            if tester is not None:
                tester.mine_blocks(block - self.head())
            else:
                call_mapped("evm_mine", lambda: self.w3.provider.make_request("evm_mine", []))

    def final_at_block(self, number: int) -> int:
        return int(call_mapped("finalAtBlock", self.rollup.functions.finalAtBlock(number).call))

    def posted_txs(self, number: int) -> list[BatchTx]:
        """Read back from the calldata of the transaction that posted batch `number`."""
        status = self.batch_status(number)
        if not status.accepted:
            raise LedgerError(f"batch {number} is not accepted", reason="batch not accepted")
        return decode_posted_txs(bytes(self._posting_params(number, status.tx_hash)["txs"]))

    def posted_executions(self, number: int) -> dict[Hash32, AnyExecution]:
        """Read back from the proofs in the calldata that posted batch `number`."""
        status = self.batch_status(number)
        if not status.accepted:
            raise LedgerError(f"batch {number} is not accepted", reason="batch not accepted")
        executions: dict[Hash32, AnyExecution] = {}
        for posted in self._posting_params(number, status.tx_hash)["inferences"]:
            model_id = ObjectId(bytes(posted["modelId"]))
            model = self.model(model_id)
            if model is None:
                raise LedgerError(f"batch {number} proves model {to_hex(model_id)}, which is "
                                  "not registered")
            inference = ProvenInference(
                model_id, bytes(posted["proof"]), tuple(int(v) for v in posted["instances"]),
                tuple((Hash32(bytes(t)), ObjectId(bytes(r)))
                      for t, r in zip(posted["txHashes"], posted["resultIds"], strict=True)))
            executions.update(proven_executions(inference, model.layout))
        return executions

    def posted_forced(self, number: int) -> list[ForcedInclusion]:
        status = self.batch_status(number)
        if not status.accepted:
            raise LedgerError(f"batch {number} is not accepted", reason="batch not accepted")
        return [ForcedInclusion(int(f["requestId"]), bool(f["included"]), int(f["txIndex"]))
                for f in self._posting_params(number, status.tx_hash)["forced"]]

    def _posting_tx(self, number: int) -> Hash32 | None:
        logs = self._accepted_logs(number)
        return Hash32(bytes(logs[-1]["transactionHash"])) if logs else None

    def _accepted_logs(self, number: int) -> list[Any]:
        """The BatchAccepted events of batch `number` (more than one after a revert)."""
        event = self.rollup.events.BatchAccepted
        return list(call_mapped("BatchAccepted logs", lambda: event.get_logs(
            from_block=self.deployment.deployed_at_block, argument_filters={"number": number})))

    def post_batch(
        self, header: BatchHeader, txs: Sequence[BatchTx] = (),
        inferences: Sequence[ProvenInference] = (), forced: Sequence[ForcedInclusion] = (),
        registrations: Sequence[ModelRegistration] = (),
    ) -> Hash32 | None:
        key = self._require_sequencer()
        status = self._check_posted(header)
        if status is not None:
            return status.tx_hash
        self._require_posting_role(key)
        bond = self.bond()
        if bond.is_short:
            raise BondShort(f"the sequencer's bond is {bond.amount} wei, under the minimum "
                            f"{bond.minimum} wei: the rollup refuses batch {header.number} until "
                            "it is topped up", reason="the sequencer's bond is short")
        registering = {r.model.object_id: self.registration_arg(r, key) for r in registrations}
        reusable: list[bool] = []
        vkas: dict[bytes, list[bytes]] = {}
        for inference in inferences:
            model_id = inference.model_id
            if model_id in registering:
                vkas[model_id] = registering[model_id][4]
                reusable.append(bool(vkas[model_id]))
                continue
            model = self.model(model_id)
            if model is None or not model.standing:
                raise LedgerError(f"model {to_hex(model_id)} has no standing registration",
                                  reason="model not registered")
            reusable.append(model.reusable)
            if model.reusable and model_id not in vkas:
                vkas[model_id] = self.vka_of(model_id)
        args = (
            header_tuple(header),
            encode_posted_txs(txs),
            [(i.model_id, i.proof, list(i.instances), vkas.get(i.model_id, []),
              [r[0] for r in i.rows], [r[1] for r in i.rows])
             for i in inferences],
            [(f.request_id, f.included, f.tx_index) for f in forced],
            list(registering.values()),
        )
        blob = None if self.batch_data_source is None else self.batch_data_source(
            header.data_pointer)
        if blob is None:
            fn = self.rollup.functions.submitBatch(*args)
        else:
            fn = self.rollup.functions.submitBatchWithData(*args, blob)
        data = fn._encode_transaction_data()
        gas = self.gas.batch_limit(inferences, reusable, len(forced), len(txs),
                                   len(data) // 2) + self.registration_gas(list(registrations))
        if blob is not None:
            gas = min(gas + self.gas.per_data_byte * len(blob), self.gas.block_cap)
        try:
            receipt = self._send(f"batch {header.number}", key,
                                 {"to": fn.address, "data": data, "gas": gas})
        except LedgerError:
            # A post sent before a restart may have landed meanwhile: then this is done.
            status = self._check_posted(header)
            if status is not None:
                return status.tx_hash
            raise
        return Hash32(bytes(receipt["transactionHash"]))

    def batch_header(self, number: int) -> BatchHeader | None:
        """The header of accepted batch `number`, read back from the calldata of the transaction
        that posted it and checked to hash to the batch hash the rollup recorded; None when the
        batch is not accepted (yet)."""
        status = self.batch_status(number)
        if not status.accepted:
            return None
        params = self._posting_params(number, status.tx_hash)
        header = header_from_abi(params["header"])
        if compute_batch_hash(header) != status.batch_hash:
            raise LedgerError(f"the transaction that posted batch {number} holds a header that "
                              "does not hash to the recorded batch hash")
        return header

    def posted_batch(self, number: int) -> PostedBatch | None:
        header = self.batch_header(number)
        if header is None:
            return None
        return PostedBatch(number, header, compute_batch_hash(header), header.data_pointer)

    def batch_depth(self, number: int) -> int | None:
        status = self.batch_status(number)
        if not status.accepted or status.tx_hash is None:
            return None
        tx_hash = status.tx_hash
        receipt = call_mapped("receipt", lambda: self.w3.eth.get_transaction_receipt(tx_hash))
        return self.head() - int(receipt["blockNumber"]) + 1

    def batch_data(self, data_pointer: Hash32) -> bytes | None:
        """The blob posted in calldata with `submitBatchWithData` under this data pointer (the
        first such post), unchecked; None when no batch carried it."""
        event = self.rollup.events.BatchDataPosted
        logs = call_mapped("BatchDataPosted logs", lambda: event.get_logs(
            from_block=self.deployment.deployed_at_block,
            argument_filters={"dataPointer": data_pointer}))
        if not logs:
            return None
        tx = call_mapped("transaction", lambda: self.w3.eth.get_transaction(
            logs[0]["transactionHash"]))
        _, params = self.rollup.decode_function_input(tx["input"])
        return bytes(params["data"])

    def _posting_params(self, number: int, tx_hash: Hash32 | None) -> dict[str, Any]:
        if tx_hash is None:
            raise LedgerError(f"batch {number} is accepted but no BatchAccepted event names it")
        tx = call_mapped("transaction", lambda: self.w3.eth.get_transaction(tx_hash))
        try:
            _, params = self.rollup.decode_function_input(tx["input"])
        except ValueError as exc:
            # Posted through another contract: its calldata is not a rollup call.
            raise LedgerError(f"batch {number} was not posted by a direct rollup call: {exc}"
                              ) from exc
        return params  # type: ignore[no-any-return]

    def _check_posted(self, header: BatchHeader) -> BatchStatus | None:
        """The status of an already accepted batch with this header; LedgerError when the
        ledger holds another batch under this number or misses the ones before it."""
        next_number = self.next_batch_number()
        if header.number > next_number:
            raise LedgerError(f"batch {next_number} must be posted before batch {header.number}",
                              reason="batch number out of order")
        if header.number == next_number:
            return None
        status = self.batch_status(header.number)
        if status.batch_hash != compute_batch_hash(header):
            raise LedgerError(f"the ledger holds another batch {header.number}",
                              reason="batch hash mismatch")
        return status

    # --- forced inclusion --------------------------------------------------------------------

    def queue_forced_transaction(self, raw_tx: bytes, sender_key: bytes) -> int:
        receipt = self._transact("queueForcedTransaction", sender_key,
                                 self.rollup.functions.queueForcedTransaction(raw_tx),
                                 gas=200_000 + 40 * len(raw_tx))
        events = self.rollup.events.ForcedRequestQueued().process_receipt(receipt)
        return int(events[0]["args"]["requestId"])

    def forced_requests(self, only_pending: bool = True) -> list[ForcedRequest]:
        head = int(call_mapped("forcedHead", self.rollup.functions.forcedHead().call))
        logs = call_mapped("ForcedRequestQueued logs", lambda: self.rollup.events
                           .ForcedRequestQueued.get_logs(from_block=self.deployment.deployed_at_block))
        requests = []
        for log in logs:
            args = log["args"]
            request_id = int(args["requestId"])
            if only_pending and request_id < head:
                continue
            requests.append(ForcedRequest(
                request_id=request_id, tx_hash=Hash32(bytes(args["txHash"])),
                raw_tx=bytes(args["rawTx"]), requester=_address(args["requester"]),
                queued_at_block=int(log["blockNumber"]), processed=request_id < head,
            ))
        return requests

    def forced_window(self) -> int:
        return int(call_mapped("forcedWindow", self.rollup.functions.forcedWindow().call))

    def queues(self) -> LedgerQueues:
        count = int(call_mapped("depositCount", self.bridge.functions.depositCount().call))
        consumed = int(call_mapped("depositsConsumed",
                                   self.rollup.functions.depositsConsumed().call))
        pending = tuple(int(call_mapped("deposit", self.bridge.functions.deposit(i).call)[1])
                        for i in range(consumed, count))
        logs = call_mapped("ForcedRequestProcessed logs", lambda: self.rollup.events
                           .ForcedRequestProcessed.get_logs(
                               from_block=self.deployment.deployed_at_block))
        # A revert rolls the queue back: the last settlement of each request is the one that
        # stands, and only while the request is still processed.
        outcomes = {int(log["args"]["requestId"]): ForcedOutcome(
            int(log["args"]["requestId"]), int(log["args"]["batchNumber"]),
            bool(log["args"]["included"])) for log in logs}
        forced = tuple(self.forced_requests(only_pending=False))
        return LedgerQueues(self.head(), self.forced_window(), count, consumed, pending, forced,
                            tuple(outcomes[r.request_id] for r in forced
                                  if r.processed and r.request_id in outcomes))

    # --- deposits ----------------------------------------------------------------------------

    def deposit_eth(self, key: bytes, recipient: Address, amount: int) -> Any:
        return self._transact("depositETH", key, self.bridge.functions.depositETH(
            self.w3.to_checksum_address(recipient)), gas=150_000, value=amount)

    def deposit_erc20(self, key: bytes, token: str, amount: int, recipient: Address) -> Any:
        erc20 = self._contract("TestToken", token)
        self._transact("approve", key, erc20.functions.approve(self.bridge.address, amount),
                       gas=100_000)
        return self._transact("depositERC20", key, self.bridge.functions.depositERC20(
            erc20.address, amount, self.w3.to_checksum_address(recipient)), gas=250_000)

    def deposit_data(self, key: bytes, recipient: Address, commitment: Hash32,
                     payload: bytes = b"", value: int = 0) -> Any:
        return self._transact("depositData", key, self.bridge.functions.depositData(
            self.w3.to_checksum_address(recipient), commitment, payload),
            gas=200_000 + 700 * len(payload), value=value)

    def deposits(self, from_block: int, to_block: int) -> list[DepositEvent]:
        if to_block < from_block:
            return []
        logs = call_mapped("Deposited logs", lambda: self.bridge.events.Deposited.get_logs(
            from_block=from_block, to_block=to_block))
        events = []
        for log in sorted(logs, key=lambda g: (g["blockNumber"], g["logIndex"])):
            args = log["args"]
            index = int(args["depositIndex"])
            events.append(DepositEvent(
                event_id=compute_deposit_id(self.ledger_id, index), index=index,
                block_number=int(log["blockNumber"]), block_hash=Hash32(bytes(log["blockHash"])),
                log_index=int(log["logIndex"]), depositor=_address(args["depositor"]),
                recipient=_address(args["recipient"]), asset=AssetId(bytes(args["asset"])),
                token=_address(args["token"]), amount=Amount(int(args["amount"])),
                data_commitment=Hash32(bytes(args["dataCommitment"])),
                metadata_hash=Hash32(bytes(args["metadataHash"])), payload=bytes(args["payload"]),
            ))
        return events

    # --- withdrawals -------------------------------------------------------------------------

    def finalize_withdrawal(
        self, withdrawal: Withdrawal, batch_number: int, index: int, proof: Sequence[Hash32],
        sender_key: bytes,
    ) -> Hash32:
        fn = self.bridge.functions.finalizeWithdrawal(
            batch_number, withdrawal_tuple(withdrawal, self.w3), index, list(proof))
        receipt = self._transact("finalizeWithdrawal", sender_key, fn,
                                 gas=300_000 + 3_000 * len(proof))
        return Hash32(bytes(receipt["transactionHash"]))

    def challenge(self, header: BatchHeader, txs: Sequence[BatchTx], index: int,
                  witness: StepWitness, trace: TraceEntry | None, sender_key: bytes) -> Hash32:
        """Submit a one-step fraud proof of transaction `index` of the batch with `header`
        (`txs`: all of the batch's transactions as posted, as `posted_txs` reads them back;
        `witness` built on the state before transaction `index`; `trace` the trace entry it
        committed, if any). Anyone may send it; the rollup refuses it (LedgerError) unless the
        transaction is fraud."""
        tx = txs[index]
        _, raw, entries, writes, _, claim = execute_args(witness, tx.raw, trace)
        c = tx.commitment
        args = (
            header.number, header_tuple(header), index,
            (raw, c.post_state_root, c.withdrawal_leaf, c.trace_leaf),
            compute_tree_proof([compute_tx_leaf(t.commitment) for t in txs], index),
            *leaf_before(txs, index), entries, writes, claim,
        )
        fn = self.rollup.functions.challenge(args)
        receipt = self._transact(f"challenge of batch {header.number}", sender_key, fn,
                                 gas=self.gas.challenge)
        return Hash32(bytes(receipt["transactionHash"]))

    def challenge_refusal(self, header: BatchHeader, txs: Sequence[BatchTx],
                          refusal: ForcedInclusion, raw: bytes, witness: StepWitness,
                          sender_key: bytes) -> Hash32:
        refusals = [f for f in self.posted_forced(header.number) if not f.included]
        _, _, entries, writes, _, _ = execute_args(witness, raw, None)
        args = (
            header.number, header_tuple(header), [f.request_id for f in refusals],
            [f.tx_index for f in refusals], refusals.index(refusal), raw,
            *leaf_before(txs, refusal.tx_index), entries, writes,
        )
        fn = self.rollup.functions.challengeRefusal(args)
        receipt = self._transact(f"refusal challenge of batch {header.number}", sender_key, fn,
                                 gas=self.gas.challenge)
        return Hash32(bytes(receipt["transactionHash"]))

    def batch_reverts(self) -> list[BatchRevert]:
        """Read from the BatchesReverted events; each reverted batch's hash from the last
        BatchAccepted event of its number before the revert."""
        start = self.deployment.deployed_at_block
        logs = call_mapped("BatchesReverted logs", lambda: self.rollup.events.BatchesReverted
                           .get_logs(from_block=start))
        reverts = []
        for log in sorted(logs, key=_log_position):
            args = log["args"]
            number = int(args["fromNumber"])
            before = [a for a in self._accepted_logs(number)
                      if _log_position(a) < _log_position(log)]
            if not before:
                raise LedgerError(f"batch {number} was reverted but no BatchAccepted event "
                                  "names it")
            reverts.append(BatchRevert(
                number, Hash32(bytes(max(before, key=_log_position)["args"]["batchHash"])),
                int(args["txIndex"]), str(args["reason"]), _address(args["challenger"]),
                Amount(int(args["prize"])), int(log["blockNumber"])))
        return reverts

    def bond(self) -> Bond:
        amount = call_mapped("bond", self.rollup.functions.bond().call)
        minimum = call_mapped("minBond", self.rollup.functions.minBond().call)
        return Bond(Amount(int(amount)), Amount(int(minimum)))

    def top_up_bond(self, amount: Amount, sender_key: bytes) -> Hash32:
        receipt = self._transact("topUpBond", sender_key, self.rollup.functions.topUpBond(),
                                 gas=100_000, value=amount)
        return Hash32(bytes(receipt["transactionHash"]))

    def is_withdrawal_finalized(self, withdrawal: Withdrawal) -> bool:
        leaf = compute_withdrawal_leaf(withdrawal)
        return bool(call_mapped("finalized", self.bridge.functions.finalized(leaf).call))

    def object_owner(self, object_id: ObjectId) -> Address | None:
        """Owner of the ERC-721 of a withdrawn object; None when it was not minted."""
        try:
            owner = call_mapped("ownerOf", self.objects.functions.ownerOf(
                int.from_bytes(object_id, "big")).call)
        except LedgerError:
            return None
        return _address(owner)

    def object_info(self, object_id: ObjectId) -> tuple[int, Hash32, ObjectId]:
        """(kind, commitment, model id) stored on a withdrawn object's token."""
        kind, commitment, model_id = call_mapped("objectInfo", self.objects.functions.objectInfo(
            int.from_bytes(object_id, "big")).call)
        return int(kind), Hash32(bytes(commitment)), ObjectId(bytes(model_id))

    # --- test token --------------------------------------------------------------------------

    def deploy_test_token(self, key: bytes, name: str = "Test", symbol: str = "TST") -> str:
        artifact = load_artifact("TestToken")
        receipt = self._deploy("TestToken deployment", key, artifact["abi"],
                               bytes.fromhex(artifact["bytecode"][2:]), (name, symbol), 1_500_000)
        return str(receipt["contractAddress"])

    def mint_test_token(self, key: bytes, token: str, to: Address, amount: int) -> None:
        erc20 = self._contract("TestToken", token)
        self._transact("mint", key, erc20.functions.mint(self.w3.to_checksum_address(to), amount),
                       gas=100_000)

    def erc20_balance(self, token: str, owner: Address) -> int:
        erc20 = self._contract("TestToken", token)
        return int(call_mapped("balanceOf", erc20.functions.balanceOf(
            self.w3.to_checksum_address(owner)).call))


# --- encoding helpers ----------------------------------------------------------------------------


def _address(value: Any) -> Address:
    if isinstance(value, str):
        return Address(bytes.fromhex(value[2:]))
    return Address(bytes(value))


def _log_position(log: Any) -> tuple[int, int]:
    return int(log["blockNumber"]), int(log["logIndex"])

"""`flavum demo`: the main job on embedded defaults, in a temporary home, with no server.

A node starts with a dev genesis (dev-asset funds, which no bridge pays) and an in-process EVM
(eth-tester / py-evm) holding the rollup, model registry and bridge contracts. Signed transfers
move dev funds on L2. A scikit-learn classifier is trained on the bundled digits data, exported
with skl2onnx's defaults and deployed (graph normalized, circuit compiled, keys set up, accuracy
measured). Bob deposits ETH
and a data point from L1; the ledger watcher credits them on L2. His inference returns its
prediction at once and is proven by a prover worker; the proof is verified in Python and bound
to the trace entry. The batch is sealed, its data published, and posted to the EVM, whose
rollup contract verifies the proof. Bob withdraws the RESULT (as an ERC-721) and some ETH to L1
and finalizes both with Merkle proofs. A lying sequencer's batch is proven fraudulent and
reverted. Then the sequencer stops: the escape delay passes, the rollup freezes, and Bob takes
his ETH and his data point out with inclusion proofs, replaying the ledger alone. Finally the
node restarts from its store with the same state root.
"""

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flavum.core.codec import from_hex, to_hex
from flavum.core.genesis import DEV_ASSET
from flavum.core.merkle import verify_smt_proof
from flavum.core.state import compute_balance_key, get_leaf_value, get_state_proof
from flavum.core.stf import compute_deposit_object_id
from flavum.core.transactions import (
    Body,
    DeployModel,
    Infer,
    Transaction,
    Transfer,
    Withdraw,
    address_of,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import (
    NO_OBJECT,
    ZERO_HASH,
    Access,
    Address,
    Amount,
    Hash32,
    Nonce,
    ObjectId,
)
from flavum.node.config import Allocation, LedgerSpec, NodeConfig, native_asset
from flavum.node.models import interpret_outputs
from flavum.node.node import Node
from flavum.node.sequencer import Receipt
from flavum.node.store import BatchRecord

DEMO_KEYS = {name: bytes([i + 1]) * 32 for i, name in enumerate(("alice", "bob", "carol"))}
SEQUENCER_KEY = b"\x09" * 32
MODEL_FEE = Amount(10**15)
ETH_DEPOSIT = 10**18
ETH_WITHDRAWAL = 3 * 10**17
CHALLENGE_WINDOW = 3  # blocks: the embedded EVM's, so the demo runs through it
ESCAPE_DELAY = 30  # blocks without a batch before the freeze: the demo mines through it last


def run_demo(as_json: bool = False) -> dict[str, Any]:
    say: Callable[..., None] = (lambda *_: None) if as_json else print
    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        steps[name] = round(time.perf_counter() - started, 3)

    users = {name: address_of(key) for name, key in DEMO_KEYS.items()}
    eth = native_asset()  # withdrawable: only what the Bridge holds, deposited from L1
    with tempfile.TemporaryDirectory(prefix="flavum-demo-") as tmp, _stderr_to(
            Path(tmp) / "prover.log"):
        home = Path(tmp)
        (home / "keys").mkdir()
        for name, key in {**DEMO_KEYS, "sequencer": SEQUENCER_KEY}.items():
            (home / "keys" / f"{name}.key").write_text(to_hex(key))
        config = NodeConfig(
            home=home,
            genesis=tuple(Allocation(users[n], Amount(10**21)) for n in ("alice", "bob")),
            block_max_txs=10,
            batch_interval_s=3600.0,  # the demo seals its batches itself
            prover="local",
            prover_workers=1,
            # A short challenge window: the demo mines through it before withdrawing.
            ledgers=(LedgerSpec(name="evm", kind="evm", url="embedded", confirmations=0,
                                challenge_window=CHALLENGE_WINDOW, escape_delay=ESCAPE_DELAY),),
        )
        with step("start_node"):
            node = Node.open(config)
        link = node.ledger("evm")
        ledger: Any = link.ledger
        say(f"node started: rollup {to_hex(config.domain.rollup_id)[:18]}… (the id of its "
            f"contract {ledger.deployment.rollup[:12]}… on the in-process EVM, chain "
            f"{ledger.chain_id})")
        genesis_on_l1 = ledger.genesis_state_root() == node.sequencer.genesis_root
        say(f"genesis: alice and bob hold dev funds, which no bridge pays; the rollup contract "
            f"computed the same genesis root from the allocations: {genesis_on_l1}")

        def send(name: str, body: Body) -> Receipt:
            nonce = node.sequencer.account(users[name])[0]
            tx = Transaction(config.domain.chain_id, config.domain.rollup_id, users[name],
                             Nonce(nonce), body)
            return node.sequencer.submit(encode_transaction(sign_transaction(tx, DEMO_KEYS[name])))

        def seal_and_post() -> BatchRecord:
            batch = None
            while batch is None:  # sealing waits for the batch's proofs
                node.tick()
                batch = node.sequencer.seal_batch()
            link.tick()
            return batch

        with step("transfers"):
            for i in range(20):
                sender = "alice" if i % 2 == 0 else "bob"
                send(sender, Transfer(users["carol"], DEV_ASSET, Amount(10**15 * (i + 1))))
        say(f"20 signed L2 transfers of dev funds accepted in {steps['transfers']:.3f} s")

        with step("train_model"):
            from flavum.ml.examples import train_sklearn_mlp

            example = train_sklearn_mlp("digits")
        say(f"trained a scikit-learn MLPClassifier on digits; ONNX export "
            f"{len(example.onnx_bytes)} bytes")

        with step("deploy_model"):
            record = node.models.compile(example.onnx_bytes, example.samples,
                                         progress=None if as_json else _progress_printer())
            deploy = send("alice", DeployModel(
                Hash32(from_hex(record.model_hash)), Hash32(from_hex(record.vk_hash)),
                record.metadata_hash, Access.COMMON, eth, MODEL_FEE))
        model_id = deploy.outcome.object_id
        accuracy = record.accuracy
        say(f"model {to_hex(model_id)[:18]}… deployed: logrows {record.logrows}, proves "
            f"{record.proven_output}; top-1 agreement with the float model "
            f"{accuracy['top1_agreement']:.0%}, max abs error {accuracy['max_abs_error']:.1e}")

        with step("l1_deposits"):
            row = example.test_inputs[0]
            commitment = node.models.commit_data(Hash32(from_hex(record.vk_hash)), row)
            ledger.deposit_eth(DEMO_KEYS["bob"], users["bob"], ETH_DEPOSIT)
            ledger.deposit_data(DEMO_KEYS["bob"], users["bob"], commitment, b"digits test row 0")
            link.tick()  # the watcher turns both bridge events into Deposit transactions
        event = ledger.deposits(0, ledger.head())[-1]
        data_id = compute_deposit_object_id(event.event_id)
        data = node.sequencer.object(data_id)
        if data is None:
            raise RuntimeError("the data deposit was not credited")
        say(f"L1 deposits credited: 1 ETH, and data point {to_hex(data_id)[:18]}… (Poseidon "
            f"commitment {to_hex(commitment)[:18]}…)")

        with step("infer"):
            inference = send("bob", Infer(model_id, data_id, MODEL_FEE))
        trace = inference.outcome.trace
        if trace is None:
            raise RuntimeError("the inference produced no trace entry")
        prediction = interpret_outputs(record, trace.outputs)["prediction"][0]
        say(f"inference: predicted digit {prediction} (label {int(example.test_labels[0])}), "
            f"receipt in {steps['infer']:.3f} s; proving…")

        with step("prove"):
            proof_record = _wait_for_proof(node, inference.tx_hash)
        with step("verify_in_python"):
            verified_in_python = False
            if proof_record.proof is not None:
                node.models.verify_trace(trace, Hash32(from_hex(record.vk_hash)),
                                         proof_record.proof)
                verified_in_python = True
        say(f"proof {proof_record.proof_status} in {steps['prove']:.1f} s; verified in Python "
            f"against the vk, input commitment and outputs: {verified_in_python}")

        with step("seal_and_post"):
            batch = seal_and_post()
        h = batch.header
        accepted = ledger.batch_status(h.number).accepted
        say(f"batch #{h.number}: {batch.tx_count} txs, data {to_hex(h.data_pointer)[:18]}…\n"
            f"  state_root {to_hex(h.state_root)}\n  trace_root {to_hex(h.trace_root)}\n"
            f"  accepted on L1 with its proof verified by the model's verifier: {accepted}")

        with step("train"):
            from flavum.demo_training import train_and_prove

            trained = train_and_prove(node, send, seal_and_post, _wait_for_proof, eth)
        say(f"a trainable logistic model trained one step by bob on four breast_cancer rows: "
            f"version {to_hex(trained['version_id'])[:18]}…, its step proof verified on L1: "
            f"{trained['training_step_proven']}; an Infer on the version proven by the "
            f"architecture's inference circuit, bound to its weights and verified on L1 "
            f"(logit {trained['logit']:.3f}): "
            f"{trained['trained_version_inference_proven']}")

        with step("withdraw"):
            w_result = send("bob", Withdraw(ledger.ledger_id, users["bob"], eth, Amount(0),
                                            inference.outcome.object_id)).outcome.withdrawal
            w_eth = send("bob", Withdraw(ledger.ledger_id, users["bob"], eth,
                                         Amount(ETH_WITHDRAWAL), NO_OBJECT)).outcome.withdrawal
            second = seal_and_post()
            ledger.mine_to(ledger.final_at_block(second.header.number))  # the window passes
            l1_before = ledger.eth_balance(users["bob"])
            for withdrawal in (w_result, w_eth):
                if withdrawal is None:
                    raise RuntimeError("a withdrawal made no claim")
                w, number, index, proof = node.withdrawal_proof(withdrawal.withdrawal_id)
                ledger.finalize_withdrawal(w, number, index, proof, DEMO_KEYS["bob"])
            l1_gained = ledger.eth_balance(users["bob"]) - l1_before
        nft_owner = ledger.object_owner(inference.outcome.object_id)
        finalized = all(ledger.is_withdrawal_finalized(w) for w in (w_result, w_eth) if w)
        say(f"withdrawals in batch #{second.header.number} finalized on L1: {finalized}; the "
            f"RESULT is an ERC-721 owned by {to_hex(nft_owner)[:12]}… (bob), bob's L1 balance "
            f"+{l1_gained / 1e18:.4f} ETH (0.3 minus gas)")

        with step("independent_verify"):
            reports = _verify_independently(ledger, home / "da", config)
        verify_ok = bool(reports) and all(r.ok for r in reports)
        for report in reports:
            say(f"independent verifier: {report.describe()}")

        with step("rederive_models"):
            models = _rederive_models(ledger, home / "da", config)
        models_ok = bool(models) and all(m.ok for m in models)
        for checked in models:
            say(f"model re-derived from its published graph: {checked.describe()}")

        with step("forged_batch"):
            challenged, intact = _forge_and_challenge(ledger, config)
        say(f"a lying sequencer posted a batch paying itself the Bridge's ETH: proven "
            f"fraudulent on L1 by the demo's verifier and reverted: {challenged}; the Bridge "
            f"holds every deposited wei: {intact}")

        with step("escape_hatch"):
            escaped_exit, escaped_eth = _escape_hatch(ledger, config, users["bob"], data_id)
        say(f"the sequencer stopped; {ESCAPE_DELAY} blocks later the rollup froze and bob left "
            f"with inclusion proofs against its last final state root, replayed from the ledger "
            f"alone: {escaped_eth / 1e18:.4f} ETH and his data point as an ERC-721, each once: "
            f"{escaped_exit}")

        snapshot = node.sequencer.snapshot()
        key = compute_balance_key(users["carol"], DEV_ASSET)
        state_proof = get_state_proof(snapshot, key)
        last_root = second.header.state_root
        proof_ok = verify_smt_proof(last_root, key, get_leaf_value(snapshot, key), state_proof)
        say(f"carol's balance proven against the state root: {proof_ok}")

        node.close()
        with step("restart"):
            again = Node.open(config)
            same_root = again.sequencer.state_root() == last_root
            again.close()
        say(f"node restarted from its store: same state root {same_root}")

    summary = {
        "model_id": to_hex(model_id),
        "prediction": prediction,
        "label": int(example.test_labels[0]),
        "top1_agreement": accuracy["top1_agreement"],
        "proof_status": proof_record.proof_status,
        "proof_verified_in_python": verified_in_python,
        "proof_verified_on_l1": accepted and proof_record.proof is not None,
        "batch_accepted_on_l1": accepted,
        "withdrawal_finalized": finalized,
        "nft_owner_on_l1": to_hex(nft_owner) if nft_owner else None,
        "nft_owner_is_depositor": nft_owner == users["bob"],
        "batches": second.header.number + 1,
        "state_root": to_hex(last_root),
        "balance_proof_ok": proof_ok,
        "independent_verify_ok": verify_ok,
        "models_rederived": models_ok,
        "genesis_computed_on_l1": genesis_on_l1,
        "forged_batch_challenged": challenged,
        "bridge_intact": intact,
        "escape_hatch_exit": escaped_exit,
        "restart_same_root": same_root,
        "training_step_proven": trained["training_step_proven"],
        "trained_version_inference_proven": trained["trained_version_inference_proven"],
        "steps_s": steps,
    }
    if as_json:
        print(json.dumps(summary))
    return summary


def _verify_independently(ledger: Any, data_dir: Path, config: NodeConfig) -> list[Any]:
    """What `flavum verify` does, with the in-process ledger: headers from the ledger, data
    from the data store, nothing from the node."""
    from flavum.da.factory import open_store
    from flavum.verifier import LedgerHeaders, Verifier

    with Verifier(LedgerHeaders(ledger), open_store(str(data_dir)), config.domain) as verifier:
        return list(verifier.run(0))


def _rederive_models(ledger: Any, data_dir: Path, config: NodeConfig) -> list[Any]:
    """`flavum verify --models`: each proven model's keys and verifiers made again from its
    published graph, settings and SRS, against what its owner committed to."""
    from flavum.da.factory import open_store
    from flavum.model_check import check_models
    from flavum.verifier import LedgerHeaders

    with tempfile.TemporaryDirectory(prefix="flavum-demo-models-") as tmp:
        return check_models(LedgerHeaders(ledger), open_store(str(data_dir)), config.domain,
                            Path(tmp), ledger=ledger)


def _forge_and_challenge(ledger: Any, config: NodeConfig) -> tuple[bool, bool]:
    """A lying sequencer (this harness with the sequencer's key; never a node option) posts a
    batch whose one transaction withdraws the Bridge's whole ETH balance to itself, with a
    made-up state root. The demo's own challenger, replaying the ledger from genesis, proves
    the fraud on chain. Returns (the batch was reverted, the Bridge kept its ETH)."""
    from flavum.challenger import Challenger
    from flavum.core.batch import (
        TxCommitment,
        Withdrawal,
        compute_batch_header,
        compute_withdrawal_leaf,
    )
    from flavum.core.encoding import keccak256
    from flavum.core.transactions import compute_tx_hash
    from flavum.l1.errors import LedgerError
    from flavum.l1.interface import BatchTx

    bridge = Address(from_hex(ledger.deployment.bridge, 20))
    held = ledger.eth_balance(bridge)
    number = ledger.next_batch_number()
    thief = address_of(SEQUENCER_KEY)
    theft = sign_transaction(Transaction(
        config.domain.chain_id, config.domain.rollup_id, thief, Nonce(0),
        Withdraw(ledger.ledger_id, thief, native_asset(), Amount(held), NO_OBJECT)),
        SEQUENCER_KEY)
    paid = Withdrawal(compute_tx_hash(theft), ledger.ledger_id, thief, native_asset(),
                      Amount(held), NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)
    lie = TxCommitment(compute_tx_hash(theft), keccak256(b"made up"),
                       compute_withdrawal_leaf(paid))
    prev = ledger.batch_header(number - 1).state_root
    header = compute_batch_header(number, prev, [lie], keccak256(b"no data"))
    ledger.post_batch(header, [BatchTx(encode_transaction(theft), lie)])
    frauds = Challenger(ledger, config.genesis_state.state(),
                        DEMO_KEYS["carol"]).run()
    challenged = [(f.number, f.index) for f in frauds] == [(number, 0)] and (
        ledger.next_batch_number() == number)
    try:
        ledger.finalize_withdrawal(paid, number, 0, [], SEQUENCER_KEY)
        refused = False
    except LedgerError:
        refused = True
    return challenged, refused and ledger.eth_balance(bridge) == held


def _escape_hatch(ledger: Any, config: NodeConfig, bob: Address, data_id: ObjectId
                  ) -> tuple[bool, int]:
    """What `flavum escape` does once the sequencer has stopped: blocks pass until the rollup
    is frozen, its state is replayed from the ledger alone, and bob's leaves (his ETH balance,
    his DATA object) are paid by inclusion proof. Returns (each paid once, as proven; the ETH
    paid)."""
    from flavum.escape import NOT_PAID_HERE, SPENT, compute_final_state, execute_escape, plan_escape

    ledger.mine_to(ledger.escape_status().escape_at_block)
    state = compute_final_state(ledger, config.genesis_state.state())
    plan = plan_escape(ledger, state, bob, ledger.deployment.deployed_at_block)
    owed = state.balances.get((bob, native_asset()), 0)
    before = ledger.eth_balance(bob)
    execute_escape(ledger, plan, DEMO_KEYS["carol"])  # anyone may send them: they pay bob
    paid = ledger.eth_balance(bob) - before
    again = plan_escape(ledger, state, bob, ledger.deployment.deployed_at_block)
    spent = all(c.status in (SPENT, NOT_PAID_HERE) for c in again.claims)
    return paid == owed > 0 and ledger.object_owner(data_id) == bob and spent, paid


def _wait_for_proof(node: Node, tx_hash: Hash32, timeout_s: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        node.tick()
        record = node.store.get_trace(tx_hash)
        if record is not None and record.proof_status in ("proven", "failed"):
            return record
        if time.monotonic() > deadline:
            raise RuntimeError("no proof within the demo's time limit")
        time.sleep(0.2)


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send the process's stderr (ezkl's Rust diagnostics) to a file while the demo runs."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _progress_printer() -> Callable[[str, float | None], None]:
    seen: set[str] = set()

    def progress(stage: str, fraction: float | None) -> None:
        if stage not in seen:
            seen.add(stage)
            print(f"  … {stage}", flush=True)

    return progress

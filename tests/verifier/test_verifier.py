"""The independent verifier on an honest chain posted to the embedded EVM, and on every kind of
tampering: each is caught by the check it belongs to, with its exact reason."""

from dataclasses import replace

import pytest

from flavum.core.batch import (
    compute_trace_leaf,
    compute_tx_commitment,
    compute_tx_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.merkle import compute_tree_root
from flavum.core.state import compute_state_root
from flavum.core.stf import Execution, process_transaction
from flavum.core.transactions import Deposit, decode_transaction, encode_transaction
from flavum.core.types import Amount, Hash32
from flavum.core.witness import NodeKind, WitnessNode, build_partial_state
from flavum.core.witness_build import compute_batch_witness
from flavum.da.interface import cid_from_digest, compute_cid, compute_digest
from flavum.l1.interface import PostedBatch
from flavum.ledger_deposits import LedgerDeposits
from flavum.verifier import (
    BatchReport,
    LedgerHeaders,
    Verifier,
    verify_batch,
    verify_posted,
)

from .conftest import BOB, DEPOSIT, digest

ALL_CHECKS = ("data", "header", "domain", "state_root", "tx_root", "trace_root",
              "withdrawal_root", "deposits", "proofs")
WRONG = Hash32(b"\x77" * 32)


def h(value: bytes) -> str:
    return "0x" + value.hex()


def check(report: BatchReport, check: str, code: str, reason: str) -> None:
    assert not report.ok
    assert (report.check, report.code, report.reason) == (check, code, reason)


def test_ledger_headers_are_the_nodes(chain):
    for header in chain.headers:
        assert chain.ledger.batch_header(header.number) == header
    assert chain.ledger.batch_header(len(chain.headers)) is None


def test_honest_chain_verifies(chain):
    # Batch 0 credits a bridge deposit: the deposits check finds it in the ledger's logs.
    with Verifier(LedgerHeaders(chain.ledger), chain.copy_store(), chain.domain,
                  genesis_root=chain.node.sequencer.genesis_root,
                  deposits=LedgerDeposits(chain.ledger, 0)) as verifier:
        reports = list(verifier.run(0))
    assert [r.ok for r in reports] == [True, True, True], [r.describe() for r in reports]
    assert all(r.checks == ALL_CHECKS for r in reports)
    assert [(r.txs, r.inferences, r.withdrawals) for r in reports] == [(5, 0, 0), (3, 2, 0),
                                                                       (3, 1, 2)]
    assert [r.state_root for r in reports] == [h.state_root for h in chain.headers]
    assert reports[1].describe() == "batch 1: OK (3 txs, 2 inferences proven, 0 withdrawals)"


def test_starting_later_chains_to_the_ledgers_previous_batch(chain):
    verifier = Verifier(LedgerHeaders(chain.ledger), chain.copy_store(), chain.domain)
    try:
        reports = list(verifier.run(2))
    finally:
        verifier.close()
    assert [r.number for r in reports] == [2] and reports[0].ok


def test_tampered_blob_bytes(chain):
    store = chain.copy_store()
    header = chain.headers[1]
    cid = cid_from_digest(header.data_pointer)
    tampered = store.objects[cid].replace(b'"status":"proven"', b'"status":"proven" ', 1)
    store.objects[cid] = tampered
    report = verify_batch(header, store, chain.domain)
    check(report, "data", "content_mismatch",
          f"batch data {cid}: memory:: the bytes stored under {cid} do not hash to that "
          f"content id (got {len(tampered)} bytes hashing to {compute_cid(tampered)})")


def test_missing_blob(chain):
    store = chain.copy_store()
    header = chain.headers[0]
    cid = cid_from_digest(header.data_pointer)
    del store.objects[cid]
    report = verify_batch(header, store, chain.domain)
    check(report, "data", "data_unavailable", f"batch data {cid}: memory:: no object {cid}")
    assert report.checks == ()


def test_missing_srs(chain):
    store = chain.copy_store()
    data = chain.blob(1)
    (circuit,) = data.circuits.values()
    del store.objects[circuit.srs_cid]
    report = verify_batch(chain.headers[1], store, chain.domain)
    trace = chain.traces[1][0]
    check(report, "proofs", "data_unavailable",
          f"trace entry 0 (tx {h(trace.tx_hash)}): memory:: no object {circuit.srs_cid}")


def test_wrong_state_root_in_the_header(chain):
    header = chain.headers[1]
    report = verify_batch(replace(header, state_root=WRONG), chain.copy_store(), chain.domain)
    check(report, "header", "verification_failed",
          f"header field state_root: the ledger has {h(WRONG)}, the batch data "
          f"{h(header.state_root)}")
    assert report.checks == ("data",)


def test_wrong_state_root_in_header_and_blob(chain):
    """A sequencer that claims another state root everywhere: re-execution refutes it."""
    store = chain.copy_store()
    header = chain.headers[1]
    lying = replace(chain.blob(1), state_root=WRONG)
    store.put(lying.to_bytes())
    report = verify_batch(replace(header, state_root=WRONG, data_pointer=digest(lying)), store,
                          chain.domain)
    check(report, "state_root", "state_root_mismatch",
          f"re-execution gives state root {h(header.state_root)}, the batch claims {h(WRONG)}")
    assert report.checks == ("data", "header", "domain")


def test_broken_chain_of_state_roots(chain):
    report = verify_batch(chain.headers[2], chain.copy_store(), chain.domain,
                          prev_state_root=WRONG)
    check(report, "header", "verification_failed",
          f"prev_state_root {h(chain.headers[2].prev_state_root)} does not continue from "
          f"{h(WRONG)}")


def test_other_rollup_domain(chain):
    other = replace(chain.domain, chain_id=chain.domain.chain_id + 1)
    report = verify_batch(chain.headers[0], chain.copy_store(), other)
    check(report, "domain", "verification_failed",
          f"the batch is for chain {chain.domain.chain_id} rollup {h(chain.domain.rollup_id)}, "
          f"this verifier follows chain {other.chain_id} rollup {h(other.rollup_id)}")


def test_proofs_swapped_between_trace_entries(chain):
    store = chain.copy_store()
    header, data = chain.headers[1], chain.blob(1)
    first, second = data.proofs
    t0, t1 = chain.traces[1]
    # The proof bytes trade places under the right tx hashes: the public values do not bind.
    swapped = replace(data, proofs=(replace(first, proof=second.proof),
                                    replace(second, proof=first.proof)))
    store.put(swapped.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(swapped)), store, chain.domain,
                          deposits=LedgerDeposits(chain.ledger, 0))
    check(report, "proofs", "invalid_proof",
          f"trace entry 0 (tx {h(t0.tx_hash)}): proof's input commitment for row 0 is "
          f"{h(t1.input_commitment)}, not {h(t0.input_commitment)}")
    assert report.checks == ALL_CHECKS[:-1]
    # The whole entries trade places: the order gives them away.
    reordered = replace(data, proofs=(second, first))
    store.put(reordered.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(reordered)), store, chain.domain)
    check(report, "proofs", "verification_failed",
          f"trace entry 0 (tx {h(t0.tx_hash)}): the proof in its place is for tx "
          f"{h(t1.tx_hash)}")


def test_missing_or_failed_proof(chain):
    store = chain.copy_store()
    header, data = chain.headers[2], chain.blob(2)
    (trace,) = chain.traces[2]
    failed = replace(data, proofs=(replace(data.proofs[0], status="failed", proof=None,
                                           reason="prover crashed"),))
    store.put(failed.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(failed)), store, chain.domain)
    check(report, "proofs", "invalid_proof",
          f"trace entry 0 (tx {h(trace.tx_hash)}): no proof (failed: prover crashed)")
    dropped = replace(data, proofs=())
    store.put(dropped.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(dropped)), store, chain.domain)
    check(report, "proofs", "verification_failed",
          "the batch has 1 inference trace entries but 0 proofs")


def test_wrong_verifying_key(chain):
    store = chain.copy_store()
    header, data = chain.headers[1], chain.blob(1)
    ((vk_hash, circuit),) = data.circuits.items()
    bad_vk = circuit.vk[:-1] + bytes([circuit.vk[-1] ^ 1])
    bad = replace(data, circuits={vk_hash: replace(circuit, vk=bad_vk)})
    store.put(bad.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(bad)), store, chain.domain)
    from flavum.core.encoding import keccak256

    check(report, "proofs", "invalid_proof",
          f"trace entry 0 (tx {h(chain.traces[1][0].tx_hash)}): the verifying key published "
          f"for {h(vk_hash)} hashes to {h(keccak256(bad_vk))}")


def _with_outputs(data, index: int, outputs):
    executions = list(data.executions)
    executions[index] = Execution(executions[index].input_commitment, tuple(outputs))
    return replace(data, executions=tuple(executions))


def _resealed(chain, number: int, data):
    """What a lying sequencer publishes for batch `number` with `data` changed: every root
    recomputed from what its transactions do, so header and data agree and re-execution
    finds nothing wrong."""
    header = chain.headers[number]
    state = build_partial_state(chain.domain, header.prev_state_root, data.witness)
    outcomes, commitments = [], []
    for raw, ex in zip(data.txs, data.executions, strict=True):
        outcomes.append(process_transaction(state, decode_transaction(raw), ex))
        o = outcomes[-1]
        commitments.append(compute_tx_commitment(o.tx_hash, compute_state_root(state), o.trace,
                                                 o.withdrawal))
    traces = [o.trace for o in outcomes if o.trace]
    withdrawals = [o.withdrawal for o in outcomes if o.withdrawal]
    data = replace(data, state_root=compute_state_root(state),
                   tx_root=compute_tree_root([compute_tx_leaf(c) for c in commitments]),
                   trace_root=compute_tree_root([compute_trace_leaf(t) for t in traces]),
                   withdrawal_root=compute_tree_root([compute_withdrawal_leaf(w)
                                                      for w in withdrawals]))
    return replace(header, state_root=data.state_root, tx_root=data.tx_root,
                   trace_root=data.trace_root, withdrawal_root=data.withdrawal_root,
                   data_pointer=digest(data)), data


def test_deposit_the_ledger_does_not_hold(chain):
    """A sequencer crediting more than was deposited, a deposit nobody made, with header and
    data consistent (witness and roots made for the forged transactions): re-execution accepts
    it, the ledger's deposit logs refute it. (The rollup contract would refuse to accept such
    a batch; the verifier does not rely on that.) Another ledger's deposit is not its concern."""
    store = chain.copy_store()
    data = chain.blob(0)
    txs = [decode_transaction(raw) for raw in data.txs]
    ((index, tx),) = [(i, t) for i, t in enumerate(txs) if isinstance(t.body, Deposit)]
    assert tx.body.amount == DEPOSIT

    def forge(**changes):
        forged = list(txs)
        forged[index] = replace(tx, body=replace(tx.body, **changes))
        witness = compute_batch_witness(chain.node.sequencer.genesis.state(), forged,
                                        data.executions)
        lying, blob = _resealed(chain, 0, replace(
            data, txs=tuple(encode_transaction(t) for t in forged), witness=witness))
        store.put(blob.to_bytes())
        assert verify_batch(lying, store, chain.domain).ok  # every other check passes
        return verify_batch(lying, store, chain.domain, deposits=deposits)

    deposits = LedgerDeposits(chain.ledger, 0)
    report = forge(amount=Amount(DEPOSIT * 1000))
    check(report, "deposits", "verification_failed",
          f"transaction {index} credits {DEPOSIT * 1000} to {h(BOB)} for deposit "
          f"{h(tx.body.event_id)}: ledger evm's deposit has amount {DEPOSIT}, the transaction "
          f"{DEPOSIT * 1000}")
    assert report.checks == ALL_CHECKS[:-2]
    report = forge(event_id=WRONG)
    check(report, "deposits", "verification_failed",
          f"transaction {index} credits {DEPOSIT} to {h(BOB)} for deposit {h(WRONG)}, which "
          f"ledger evm does not hold with 0 blocks on top (blocks 0..{chain.ledger.head()})")
    assert forge(ledger=WRONG, event_id=WRONG).ok


def test_changed_output_breaks_the_state_root(chain):
    store = chain.copy_store()
    header, data = chain.headers[2], chain.blob(2)
    index = next(i for i, e in enumerate(data.executions) if e is not None)
    outputs = list(data.executions[index].outputs)
    outputs[0] += 1
    changed = _with_outputs(data, index, outputs)
    store.put(changed.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(changed)), store, chain.domain)
    assert (report.check, report.code) == ("state_root", "state_root_mismatch")
    assert report.reason.startswith("re-execution gives state root 0x")
    assert report.reason.endswith(f", the batch claims {h(header.state_root)}")


def test_changed_output_with_consistent_roots_fails_its_proof(chain):
    """A sequencer that changes an output and recomputes every root: only the proof says no."""
    store = chain.copy_store()
    data = chain.blob(2)
    index = next(i for i, e in enumerate(data.executions) if e is not None)
    original = data.executions[index].outputs
    outputs = list(original)
    outputs[0] += 1
    lying, changed = _resealed(chain, 2, _with_outputs(data, index, outputs))
    store.put(changed.to_bytes())
    traces = chain.traces[2]
    report = verify_batch(lying, store, chain.domain)
    check(report, "proofs", "invalid_proof",
          f"trace entry 0 (tx {h(traces[0].tx_hash)}): proof's row 0 outputs {original} are not "
          f"{tuple(outputs)}")


def test_changed_witness_leaf(chain):
    store = chain.copy_store()
    header, data = chain.headers[1], chain.blob(1)
    address, asset, amount = data.witness.balances[0]
    witness = replace(data.witness, balances=((address, asset, amount + 1),)
                      + data.witness.balances[1:])
    changed = replace(data, witness=witness)
    store.put(changed.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(changed)), store, chain.domain)
    with pytest.raises(Exception) as core:  # the core's own words, passed through unchanged
        build_partial_state(chain.domain, header.prev_state_root, witness)
    check(report, "state_root", "invalid_witness", str(core.value))
    assert report.reason.startswith("bad witness entry: ")
    assert " in the witness but value hash 0x" in report.reason


def test_changed_witness_tree_node(chain):
    store = chain.copy_store()
    header, data = chain.headers[1], chain.blob(1)
    tree = list(data.witness.tree)
    index = next(i for i, n in enumerate(tree) if n.kind == NodeKind.LEAF)
    tree[index] = WitnessNode(NodeKind.LEAF, key=tree[index].key, value_hash=WRONG)
    changed = replace(data, witness=replace(data.witness, tree=tuple(tree)))
    store.put(changed.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(changed)), store, chain.domain)
    assert (report.check, report.code) == ("state_root", "invalid_witness")
    assert report.reason.startswith("the witness tree hashes to 0x")
    assert report.reason.endswith(f"not to the previous state root {h(header.prev_state_root)} "
                                  "(a tampered sibling, leaf or opening)")


def test_tx_root_and_trace_root(chain):
    store = chain.copy_store()
    header = chain.headers[1]
    report = verify_batch(replace(header, tx_root=WRONG), store, chain.domain)
    check(report, "header", "verification_failed",
          f"header field tx_root: the ledger has {h(WRONG)}, the batch data {h(header.tx_root)}")
    data = chain.blob(1)
    dropped = replace(data, txs=data.txs[:-1], executions=data.executions[:-1])
    store.put(dropped.to_bytes())
    report = verify_batch(replace(header, data_pointer=digest(dropped)), store, chain.domain)
    # Re-execution comes first now (the tx leaves commit each post-state root): a dropped
    # transaction changes the state root the batch ends at.
    assert (report.check, report.code) == ("state_root", "state_root_mismatch")
    assert report.reason.endswith(f"the batch claims {h(header.state_root)}")
    # Ledger and data agree on a tx root that is not what the transactions did.
    lying = replace(data, tx_root=WRONG)
    store.put(lying.to_bytes())
    report = verify_batch(replace(header, tx_root=WRONG, data_pointer=digest(lying)), store,
                          chain.domain)
    assert (report.check, report.code) == ("tx_root", "verification_failed")
    assert report.reason.endswith(f", the header has {h(WRONG)}")


def test_anchor_without_header(chain):
    """An anchoring ledger records the batch hash and data pointer: the header is rebuilt."""
    store = chain.copy_store()
    from flavum.core.batch import compute_batch_hash

    header = chain.headers[1]
    report, rebuilt = verify_posted(PostedBatch(1, None, compute_batch_hash(header),
                                                header.data_pointer), store, chain.domain)
    assert report.ok and rebuilt == header
    report, rebuilt = verify_posted(PostedBatch(1, None, WRONG, header.data_pointer), store,
                                    chain.domain)
    check(report, "header", "verification_failed",
          "the batch data's header fields with the anchored data pointer do not hash to the "
          "anchored batch hash")


def test_verifier_reports_the_tampered_batch_and_goes_on(chain):
    store = chain.copy_store()
    del store.objects[cid_from_digest(chain.headers[1].data_pointer)]
    with Verifier(LedgerHeaders(chain.ledger), store, chain.domain) as verifier:
        reports = list(verifier.run(0))
    assert [r.ok for r in reports] == [True, False, True]
    assert reports[1].describe().startswith("batch 1: FAILED data: batch data bafkrei")


def test_watch_follows_new_batches(chain):
    class Growing:
        """The ledger as it grows: one more batch visible at every poll."""

        name = "evm"

        def __init__(self) -> None:
            self.visible = 1
            self.inner = LedgerHeaders(chain.ledger)

        def next_batch_number(self) -> int:
            return self.visible

        def posted_batch(self, number):
            return self.inner.posted_batch(number)

    source = Growing()
    polls = []

    def sleep(_: float) -> None:
        polls.append(source.visible)
        source.visible += 1

    with Verifier(source, chain.copy_store(), chain.domain) as verifier:
        reports = list(verifier.watch(0, poll_s=0, should_stop=lambda: len(polls) >= 3,
                                      sleep=sleep))
    assert [(r.number, r.ok) for r in reports] == [(0, True), (1, True), (2, True)]


def test_compute_digest_is_the_pointer(chain):
    blob = chain.store.get(cid_from_digest(chain.headers[0].data_pointer))
    assert compute_digest(blob) == chain.headers[0].data_pointer

"""Benchmark: L1 gas of the EVM ledger (receipt gasUsed: execution + calldata + base 21k).

Measured on the embedded EVM (py-evm, Prague rules; anvil gives the same gas) with real ezkl
proofs of a Gemm 4-8-3 MLP with hashed input:

- contract deployments, and binding a model to its verifier with no registrar (its MODEL
  object, committed to its binding, shown by inclusion proof in an accepted batch's state root
  of 1,000 leaves): its own verifier (deployed, then `register`), its VKA on the shared one
  (`register`), or either by the posting of the batch that first proves the model;
- a batch of one Transfer; a batch of 1 and of 16 single-inference proofs (own verifier);
- a batch of 16 inferences proven by ONE proof of the same model with a batch dimension of 16,
  on the reusable verifier (its own verifier is over the 24,576-byte limit): one verifier call
  whose public values hold 16 rows of outputs, one trace leaf per row;
- the same with one input commitment per row (the model batched by 16 with make_batched:
  16 inputs, 16 Poseidon commitments, registered with that layout): its own verifier fits the
  limit; full, 12 requests + 4 padding rows, and full on the reusable verifier;
- the same model with its rows committed as KZG points (polycommit, registered with the
  row-points layout: each row's commitment is keccak256 of its point in the proof);
- deposits (ETH, ERC-20, data) and withdrawal finalizations (ETH, ERC-20, RESULT as ERC-721).

Every batch carries its signed transactions (one Infer per inference, one Withdraw per
withdrawal), each with its post-state root and emitted leaf: the rollup hashes them and checks
the header's roots against them.

Goal: <= 150k gas per proven inference, amortized in a batch of 16.

    python bench/bench_gas.py
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.core.assets import compute_asset_id  # noqa: E402
from flavum.core.batch import (  # noqa: E402
    TraceEntry,
    Withdrawal,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import keccak256  # noqa: E402
from flavum.core.genesis import Genesis  # noqa: E402
from flavum.core.merkle import compute_tree_proof  # noqa: E402
from flavum.core.model_binding import ModelBinding  # noqa: E402
from flavum.core.state import (  # noqa: E402
    Object,
    State,
    compute_object_key,
    compute_state_root,
    get_state_proof,
    set_balance,
    set_object,
)
from flavum.core.transactions import (  # noqa: E402
    Infer,
    Transfer,
    Withdraw,
    address_of,
    compute_tx_hash,
)
from flavum.core.types import (  # noqa: E402
    ZERO_HASH,
    Address,
    Amount,
    AssetId,
    Hash32,
    ObjectId,
)
from flavum.l1.evm_abi import header_tuple  # noqa: E402
from flavum.l1.evm_client import embedded_web3  # noqa: E402
from flavum.l1.evm_deploy import deploy_contracts  # noqa: E402
from flavum.l1.evm_escape import object_tuple  # noqa: E402
from flavum.l1.evm_step import proof_arg  # noqa: E402
from flavum.l1.interface import (  # noqa: E402
    CircuitFiles,
    ModelLayout,
    ModelRegistration,
    proven_inference,
)
from flavum.zk.circuit import CircuitConfig  # noqa: E402
from flavum.zk.execution import outputs_per_row  # noqa: E402
from flavum.zk.polycommit import compute_data_commitment  # noqa: E402
from tests.l1.conftest import (  # noqa: E402
    DEPLOYER_KEY,
    DOMAIN,
    make_per_row_model,
    make_proven_model,
)
from tests.l1.helpers import batch_of, model_binding, model_object, signed  # noqa: E402

# The ledger tests' deployer: on a fresh chain its rollup is DOMAIN's, which they sign for.
DEPLOYER, SEQUENCER, USER = DEPLOYER_KEY, b"\x42" * 32, b"\x43" * 32
GOAL = 150_000


def h(label: str) -> Hash32:
    return keccak256(label.encode())


FILLER = 1_000  # leaves of the state the models are shown in: proofs of ~10 siblings


def bind(model, label: str, layout: ModelLayout = ModelLayout(), *, own: bool = True
         ) -> tuple[Object, ModelBinding, CircuitFiles]:
    """`model` deployed as the MODEL h(label), committed to its real binding."""
    binding = model_binding(model, layout, own=own)
    return model_object(model, ObjectId(h(label)), binding), binding, model.circuit(layout)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="flavum-bench-gas-") as tmp:
        rows = measure(Path(tmp))
    print("| operation | gas | note |")
    print("|---|---:|---|")
    for name, gas, note in rows:
        print(f"| {name} | {gas:,} | {note} |")


def measure(tmp: Path) -> list[tuple[str, int, str]]:
    rows: list[tuple[str, int, str]] = []
    single = make_proven_model(tmp, batch=1)
    batched = make_proven_model(tmp, batch=16)
    rows16 = make_per_row_model(tmp, n=16, real=12)
    points16 = make_per_row_model(tmp / "points", n=16, real=12,
                                  config=CircuitConfig(input_visibility="polycommit"))
    w3 = embedded_web3([DEPLOYER, SEQUENCER, USER])
    genesis = Genesis(DOMAIN).root
    ledger = deploy_contracts(w3, DEPLOYER, sequencer=address_of(SEQUENCER),
                              genesis=Genesis(DOMAIN), challenge_window_blocks=0,
                              sequencer_key=SEQUENCER)
    start = ledger.deployment.deployed_at_block
    deploy_gas = [w3.eth.get_transaction_receipt(w3.eth.get_block(n)["transactions"][0])["gasUsed"]
                  for n in range(start + 1, w3.eth.block_number + 1)]
    # In deploy_contracts' order: the rollup needs its executor's address, the bridge the rollup's.
    for name, gas in zip(("ModelRegistry", "FlavumStep (one-step executor)",
                          "FlavumRollup (+ the bond)", "FlavumBridge (+ FlavumObjects)",
                          "ezkl reusable verifier (once per chain)"), deploy_gas, strict=True):
        rows.append((f"deploy {name}", gas, ""))

    # Models, bound to their verifiers with no registrar: each MODEL object committed to its
    # binding, shown in the state root of an accepted batch among FILLER other leaves.
    own, vka = bind(single, "own"), bind(single, "vka", own=False)
    own_posted = bind(single, "own, bound in the posting")
    assert not batched.verifier.fits  # its own verifier is over the size limit: VKA only
    batch16 = bind(batched, "b16", ModelLayout(16))
    rows_own = bind(rows16, "rows16", ModelLayout(16, per_row_inputs=True))
    rows_vka = bind(rows16, "rows16-vka", ModelLayout(16, per_row_inputs=True), own=False)
    points_own = bind(points16, "points16", ModelLayout(16, per_row_inputs=True, row_points=True))
    state = State(DOMAIN)
    for i in range(FILLER):
        set_balance(state, Address(h(f"holder {i}")[:20]), AssetId(h("asset")), Amount(1 + i))
    for obj, _, _ in (own, vka, own_posted, batch16, rows_own, rows_vka, points_own):
        set_object(state, obj)
    root = compute_state_root(state)

    def registration(bound) -> ModelRegistration:
        obj, binding, circuit = bound
        return ModelRegistration(obj, binding, get_state_proof(
            state, compute_object_key(obj.object_id)), circuit)

    siblings = len(registration(own).proof.siblings)
    number, prev, nonce = 0, genesis, 0

    def sign(body):
        nonlocal nonce
        nonce += 1
        return signed(body, nonce)

    def post(emitted, inferences, registrations=()):
        """Post the next batch of `emitted`: (transaction, its trace entry, its withdrawal);
        its state root shows the models."""
        nonlocal number, prev
        header, txs = batch_of(number, prev, emitted, root)
        ledger.post_batch(header, txs, inferences, registrations=registrations)
        number, prev = number + 1, header.state_root
        return header, ledger.last_receipt["gasUsed"]

    eth = compute_asset_id(ledger.ledger_id)
    shown, empty = post([(sign(Transfer(address_of(USER), eth, Amount(1))), None, None)], [])
    rows.append(("batch without inferences (one Transfer)", empty, ""))

    # Registered by anyone (here the user) with the registry's `register`.
    before = w3.eth.block_number
    ledger.register_model(shown, registration(own), USER)
    receipts = [w3.eth.get_transaction_receipt(w3.eth.get_block(n)["transactions"][0])
                for n in range(before + 1, w3.eth.block_number + 1)]
    size = single.verifier.contract.deployed_size
    rows.append(("deploy a model's own ezkl verifier (Gemm 4-8-3)", receipts[0]["gasUsed"],
                 f"{size:,} bytes of code"))
    rows.append(("`register` it (inclusion proof, binding, EXTCODEHASH)",
                 receipts[1]["gasUsed"], f"proof of {siblings} siblings"))

    def register_vka(bound, words) -> int:
        """`register` of a model's VKA on the reusable verifier (sent by hand: the model's
        own verifier fits, a node would commit to it)."""
        obj, binding, _ = bound
        arg = (object_tuple(w3, obj), (binding.record_hash, binding.srs_hash,
                                       binding.verifier_code_hash, binding.vka_digest,
                                       binding.reusable_code_hash, binding.rows,
                                       binding.inputs),
               proof_arg(registration(bound).proof), ledger.reusable_verifier.address,
               list(words))
        ledger._transact("register", USER, ledger.registry.functions.register(
            header_tuple(shown), arg), gas=3_000_000)
        return int(ledger.last_receipt["gasUsed"])

    rows.append(("`register` a model's VKA on the reusable verifier",
                 register_vka(vka, single.verifier.vka),
                 f"{len(single.verifier.vka)} words, proof of {siblings} siblings"))
    rows_verifier = "own verifier" if rows16.verifier.fits else "reusable verifier"
    before = w3.eth.block_number
    ledger.register_model(shown, registration(rows_own), USER)
    gas_used = [w3.eth.get_transaction_receipt(w3.eth.get_block(n)["transactions"][0])["gasUsed"]
                for n in range(before + 1, w3.eth.block_number + 1)]
    note = (f"{rows16.verifier.contract.deployed_size:,} bytes of code"
            if rows16.verifier.fits else f"{len(rows16.verifier.vka)} words")
    rows.append((f"the per-row batch-16 model ({rows_verifier}, deployed + `register`)",
                 sum(gas_used), note))
    rows.append(("`register` the per-row batch-16 model's VKA on the reusable verifier",
                 register_vka(rows_vka, rows16.verifier.vka),
                 f"{len(rows16.verifier.vka)} words"))
    if not points16.verifier.fits:
        raise SystemExit("the row-points batch-16 verifier is over the size limit")
    before = w3.eth.block_number
    ledger.register_model(shown, registration(points_own), USER)
    rows.append(("the row-points (polycommit) batch-16 model (own verifier, deployed + "
                 "`register`)", sum(
                     w3.eth.get_transaction_receipt(w3.eth.get_block(n)["transactions"][0])[
                         "gasUsed"] for n in range(before + 1, w3.eth.block_number + 1)),
                 f"{points16.verifier.contract.deployed_size:,} bytes of code"))
    own_model, vka_model, batch_model = (m[0].object_id for m in (own, vka, batch16))
    rows_model, rows_vka_model = rows_own[0].object_id, rows_vka[0].object_id
    def infer(model_id, data_id):
        """A signed Infer transaction and its hash (its trace entry's tx_hash)."""
        tx = sign(Infer(model_id, data_id, Amount(0)))
        return tx, compute_tx_hash(tx)

    def single_inferences(model_id, count):
        emitted, inferences = [], []
        for i in range(count):
            (tx, tx_hash), result = infer(model_id, ObjectId(h("d"))), ObjectId(h(f"r{number}-{i}"))
            emitted.append((tx, TraceEntry(tx_hash, model_id, ObjectId(h("d")),
                                           single.execution.input_commitment.be_bytes,
                                           single.execution.outputs, result), None))
            inferences.append(proven_inference(model_id, single.proof, [(tx_hash, result)]))
        return emitted, inferences

    gas1 = {}
    for model_id, label in ((own_model, "own verifier"), (vka_model, "reusable verifier")):
        _, gas1[model_id] = post(*single_inferences(model_id, 1))
        rows.append((f"batch of 1 proven inference, {label}", gas1[model_id], ""))
    # The model bound by the posting of the batch that first proves it (its verifier code
    # already deployed: the own model's).
    emitted, inferences = single_inferences(own_posted[0].object_id, 1)
    _, gas = post(emitted, inferences, [registration(own_posted)])
    rows.append(("the same batch, the model bound in its posting (own verifier)", gas,
                 f"+{gas - gas1[own_model]:,} for the binding"))
    _, gas16 = post(*single_inferences(own_model, 16))
    rows.append(("batch of 16 proofs of 1 inference, own verifier", gas16,
                 f"{gas16 // 16:,} per inference"))

    # One proof for 16 rows: split into 16 trace leaves.
    outputs = batched.execution.outputs
    per_row = len(outputs) // 16
    emitted, proof_rows = [], []
    for r in range(16):
        (tx, tx_hash), result = infer(batch_model, ObjectId(h("d"))), ObjectId(h(f"br-{r}"))
        emitted.append((tx, TraceEntry(tx_hash, batch_model, ObjectId(h("d")),
                                       batched.execution.input_commitment.be_bytes,
                                       outputs[r * per_row:(r + 1) * per_row], result), None))
        proof_rows.append((tx_hash, result))
    proven = [proven_inference(batch_model, batched.proof, proof_rows)]
    _, gas_bound = post(emitted, proven, [registration(batch16)])
    # The same inferences again (new transactions), the model bound by then.
    again = []
    for r, (_, trace, _) in enumerate(emitted):
        (tx, tx_hash), result = infer(batch_model, ObjectId(h("d"))), ObjectId(h(f"br2-{r}"))
        again.append((tx, replace(trace, tx_hash=tx_hash, result_id=result), None))
    emitted = again
    proven = [proven_inference(batch_model, batched.proof,
                               [(t.tx_hash, t.result_id) for _, t, _ in emitted])]
    _, gas_b = post(emitted, proven)
    rows.append(("batch of 16 inferences in ONE proof, the batch-16 model bound in its posting "
                 "(VKA on the reusable verifier)", gas_bound,
                 f"+{gas_bound - gas_b:,} for the binding ({len(batched.verifier.vka)} words)"))
    per_inference = gas_b // 16
    verdict = "goal met" if per_inference <= GOAL else "goal missed"
    rows.append(("**batch of 16 inferences in ONE proof (batch-16 model), reusable verifier**",
                 gas_b, f"**{per_inference:,} per inference** ({verdict}: <= {GOAL:,})"))
    marginal = (gas_b - empty) // 16
    rows.append(("  the same, marginal over an empty batch", gas_b - empty,
                 f"{marginal:,} per inference"))

    # One proof for 16 rows, one input commitment per row: 16 leaves, each its own commitment.
    def per_row_batch(execution, proof, real, model_id=rows_model, model=rows16):
        outputs = outputs_per_row(model.artifacts, execution.outputs)
        emitted, proof_rows = [], []
        for r in range(real):
            data_id, result = ObjectId(h(f"d{r}")), ObjectId(h(f"prr{number}-{r}"))
            tx, tx_hash = infer(model_id, data_id)
            commitment = compute_data_commitment(model.artifacts, model.inputs[r])
            emitted.append((tx, TraceEntry(tx_hash, model_id, data_id, commitment, outputs[r],
                                           result), None))
            proof_rows.append((tx_hash, result))
        proof_rows += [(ZERO_HASH, ZERO_HASH)] * (16 - real)  # padding rows: no trace leaf
        return post(emitted, [proven_inference(model_id, proof, proof_rows)])[1]

    gas_r = per_row_batch(rows16.full, rows16.full_proof, 16)
    per_inference = gas_r // 16
    verdict = "goal met" if per_inference <= GOAL else "goal missed"
    rows.append((f"**batch of 16 inferences in ONE proof, one commitment per row, "
                 f"{rows_verifier}**", gas_r,
                 f"**{per_inference:,} per inference** ({verdict}: <= {GOAL:,})"))
    rows.append(("  the same, marginal over an empty batch", gas_r - empty,
                 f"{(gas_r - empty) // 16:,} per inference"))
    gas_p = per_row_batch(rows16.padded, rows16.padded_proof, rows16.real)
    rows.append((f"  the same proof with {rows16.real} requests + {16 - rows16.real} padding "
                 "rows", gas_p, f"{gas_p // rows16.real:,} per inference"))
    gas_v = per_row_batch(rows16.full, rows16.full_proof, 16, rows_vka_model)
    rows.append(("  the same full batch on the reusable verifier", gas_v,
                 f"{gas_v // 16:,} per inference"))
    # The same model with KZG-committed rows: commitments read from the proof's points.
    gas_k = per_row_batch(points16.full, points16.full_proof, 16, points_own[0].object_id,
                          points16)
    rows.append(("batch of 16 inferences in ONE proof, rows as KZG points (polycommit), own "
                 "verifier", gas_k, f"{gas_k // 16:,} per inference"))
    rows.append(("  the same, marginal over an empty batch", gas_k - empty,
                 f"{(gas_k - empty) // 16:,} per inference"))

    # Deposits and withdrawals.
    token = ledger.deploy_test_token(USER)
    ledger.mint_test_token(USER, token, address_of(USER), 10**6)
    ledger.deposit_eth(USER, address_of(USER), 10**18)
    rows.append(("deposit ETH", ledger.last_receipt["gasUsed"], ""))
    ledger.deposit_erc20(USER, token, 1_000, address_of(USER))
    rows.append(("deposit ERC-20 (after approve)", ledger.last_receipt["gasUsed"], "first deposit"))
    ledger.deposit_erc20(USER, token, 1_000, address_of(USER))
    rows.append(("deposit ERC-20, again", ledger.last_receipt["gasUsed"], ""))
    ledger.deposit_data(USER, address_of(USER), h("commitment"), b"")
    rows.append(("deposit data (commitment only)", ledger.last_receipt["gasUsed"], ""))
    ledger.deposit_data(USER, address_of(USER), h("commitment"), bytes(256))
    rows.append(("deposit data (+ 256-byte payload)", ledger.last_receipt["gasUsed"], ""))

    tok = compute_asset_id(ledger.ledger_id, bytes.fromhex(token[2:]))
    none = ObjectId(ZERO_HASH)

    def withdraw(asset, amount, object_id=none, kind=0, commitment=ZERO_HASH, model=none):
        """A signed Withdraw and the withdrawal it emits (its id: the transaction's hash)."""
        tx = sign(Withdraw(ledger.ledger_id, address_of(USER), asset, Amount(amount), object_id))
        return tx, None, Withdrawal(compute_tx_hash(tx), ledger.ledger_id, address_of(USER),
                                    asset, Amount(amount), object_id, kind, commitment, model)

    emitted = [withdraw(eth, 1000) for _ in range(14)] + [
        withdraw(tok, 10),
        withdraw(eth, 0, ObjectId(h("result")), 3, h("outputs"), ObjectId(h("model"))),
    ]
    withdrawals = [w for _, _, w in emitted]
    post(emitted, [])
    leaves = [compute_withdrawal_leaf(w) for w in withdrawals]
    for index, label in ((0, "ETH"), (14, "ERC-20"), (15, "RESULT as ERC-721")):
        ledger.finalize_withdrawal(withdrawals[index], number - 1, index,
                                   compute_tree_proof(leaves, index), USER)
        rows.append((f"finalize withdrawal: {label} (tree of 16)", ledger.last_receipt["gasUsed"],
                     ""))

    return rows


if __name__ == "__main__":
    main()

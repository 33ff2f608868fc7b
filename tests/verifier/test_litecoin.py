"""Verifying from Litecoin anchors: the OP_RETURN carries the batch number, data pointer and
batch hash; the verifier rebuilds each header from its blob and checks it against the hash.
It reads the anchors with a handle that holds no key (as a federation signer does)."""

import pytest

from flavum.core.batch import compute_batch_hash
from flavum.da.interface import cid_from_digest
from flavum.l1.litecoin import LitecoinLedger
from flavum.l1.litecoin_script import compute_public_key
from flavum.verifier import LedgerHeaders, Verifier
from tests.l1.litecoin_node import (
    ANCHOR_KEY,
    LITECOIND,
    RPC_PASSWORD,
    RPC_USER,
    THRESHOLD,
    LitecoinNode,
    make_ledger,
)

LTC = 10**8

pytestmark = pytest.mark.skipif(LITECOIND is None,
                                reason="litecoind is not installed (apt-get install litecoind)")


def test_verify_from_litecoin_anchors(chain, tmp_path):
    node = LitecoinNode(tmp_path / "litecoin")
    node.start()
    try:
        node.bootstrap()
        ledger = make_ledger(node)
        node.send(ledger.anchor_address, LTC)
        node.mine(1)
        for header in chain.headers:
            ledger.post_batch(header)
            node.mine(1)
        assert ledger.anchor(2).batch_hash == compute_batch_hash(chain.headers[2])
        reader = LitecoinLedger(node.url, RPC_USER, RPC_PASSWORD, threshold=THRESHOLD,
                                federation_public_keys=list(ledger.custody.public_keys),
                                anchor_public_key=compute_public_key(ANCHOR_KEY))
        with Verifier(LedgerHeaders(reader), chain.copy_store(), chain.domain,
                      genesis_root=chain.node.sequencer.genesis_root) as verifier:
            reports = list(verifier.run(0))
        assert [r.ok for r in reports] == [True, True, True], [r.describe() for r in reports]
        assert [r.state_root for r in reports] == [h.state_root for h in chain.headers]

        store = chain.copy_store()
        del store.objects[cid_from_digest(chain.headers[1].data_pointer)]
        with Verifier(LedgerHeaders(reader), store, chain.domain) as verifier:
            reports = list(verifier.run(0))
        assert [(r.ok, r.check, r.code) for r in reports] == [
            (True, None, None), (False, "data", "data_unavailable"), (True, None, None)]
    finally:
        node.stop()

// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title FlavumHashes: the hashing rules of flavum/core, mirrored byte for byte.
/// @notice Every hash is keccak256(abi.encode(TAG, fields...)) with TAG = keccak256("flavum.<name>")
/// (flavum/core/encoding.py). Binary trees pair neighbours, an odd last node with bytes32(0)
/// (flavum/core/merkle.py). The JSON vectors under tests/vectors/ pin both sides.
library FlavumHashes {
    bytes32 internal constant TREE_NODE_TAG = keccak256("flavum.tree.node");
    bytes32 internal constant TRACE_TAG = keccak256("flavum.batch.trace");
    bytes32 internal constant WITHDRAWAL_TAG = keccak256("flavum.batch.withdrawal");
    bytes32 internal constant OUTPUTS_TAG = keccak256("flavum.batch.outputs");
    bytes32 internal constant HEADER_TAG = keccak256("flavum.batch.header");
    bytes32 internal constant ASSET_TAG = keccak256("flavum.asset");
    bytes32 internal constant TX_SIGN_TAG = keccak256("flavum.tx.sign");
    bytes32 internal constant TX_HASH_TAG = keccak256("flavum.tx.hash");

    /// The BN254 scalar field: ezkl's public values are elements of it.
    uint256 internal constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// flavum.core.batch.BatchHeader, field for field.
    struct Header {
        uint64 number;
        bytes32 prevStateRoot;
        bytes32 stateRoot;
        bytes32 txRoot;
        bytes32 traceRoot;
        bytes32 withdrawalRoot;
        bytes32 dataPointer;
    }

    /// flavum.core.batch.Withdrawal, field for field.
    struct Withdrawal {
        bytes32 withdrawalId;
        bytes32 ledger;
        address recipient;
        bytes32 asset;
        uint256 amount;
        bytes32 objectId;
        uint8 objectKind; // 0: a balance; 1 MODEL, 2 DATA, 3 RESULT (flavum.core.types.ObjectKind)
        bytes32 commitment;
        bytes32 modelId;
    }

    function treeNode(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return keccak256(abi.encode(TREE_NODE_TAG, left, right));
    }

    /// Root of the binary tree over `leaves` (bytes32(0) when empty). Overwrites `leaves`.
    function computeTreeRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) {
            return bytes32(0);
        }
        while (n > 1) {
            uint256 parents = (n + 1) / 2;
            for (uint256 i = 0; i < parents; i++) {
                bytes32 right = 2 * i + 1 < n ? leaves[2 * i + 1] : bytes32(0);
                leaves[i] = treeNode(leaves[2 * i], right);
            }
            n = parents;
        }
        return leaves[0];
    }

    /// Is `leaf` at `index` of the tree with `root`? The loop of merkle.verify_tree_proof.
    function verifyTreeProof(bytes32 root, bytes32 leaf, uint256 index, bytes32[] calldata proof)
        internal
        pure
        returns (bool)
    {
        // bytes32(0) pads odd levels: it would "verify" at a padding position past the end.
        if (leaf == bytes32(0)) {
            return false;
        }
        uint256 n = proof.length;
        if (n > 256) {
            return false;
        }
        // The index must fit in n bits (a shift by 256 gives 0, so n = 256 passes any index).
        if (n < 256 && index >> n != 0) {
            return false;
        }
        bytes32 h = leaf;
        for (uint256 i = 0; i < n; i++) {
            if ((index >> i) & 1 == 1) {
                h = treeNode(proof[i], h);
            } else {
                h = treeNode(h, proof[i]);
            }
        }
        return h == root;
    }

    function outputsHash(int256[] memory outputs) internal pure returns (bytes32) {
        return keccak256(abi.encode(OUTPUTS_TAG, outputs));
    }

    function traceLeaf(
        bytes32 txHash,
        bytes32 modelId,
        bytes32 inputCommitment,
        bytes32 outputsHash_,
        bytes32 resultId
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(TRACE_TAG, txHash, modelId, inputCommitment, outputsHash_, resultId));
    }

    /// A static struct ABI-encodes in place, exactly as its fields one after another.
    function withdrawalLeaf(Withdrawal calldata w) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAWAL_TAG, w));
    }

    function batchHash(Header calldata h) internal pure returns (bytes32) {
        return keccak256(abi.encode(HEADER_TAG, h));
    }

    /// flavum.core.assets.compute_asset_id: token zero is the ledger's native coin.
    function assetId(bytes32 ledger, address token) internal pure returns (bytes32) {
        return keccak256(abi.encode(ASSET_TAG, ledger, token));
    }

    /// A field element read as a signed integer: the upper half of the field is negative.
    function feltToSigned(uint256 felt) internal pure returns (int256) {
        require(felt < FIELD_MODULUS, "public value is not a field element");
        if (felt > FIELD_MODULUS / 2) {
            return int256(felt) - int256(FIELD_MODULUS);
        }
        return int256(felt);
    }

    /// The rollup's id of a signed transaction in its wire encoding (transactions.compute_tx_hash).
    /// Also returns its type; reverts unless `raw` is the canonical encoding of an envelope.
    function txHashOf(bytes calldata raw) internal pure returns (bytes32 txHash, uint8 txType) {
        (uint8 t, uint256 chainId, bytes32 rollupId, address sender, uint64 nonce, bytes memory body,
            bytes memory signature) = abi.decode(raw, (uint8, uint256, bytes32, address, uint64, bytes, bytes));
        // abi.decode accepts some non-canonical encodings; the node decodes strictly.
        require(
            keccak256(abi.encode(t, chainId, rollupId, sender, nonce, body, signature)) == keccak256(raw),
            "transaction is not canonically encoded"
        );
        bytes32 signingHash = keccak256(abi.encode(TX_SIGN_TAG, chainId, rollupId, t, sender, nonce, keccak256(body)));
        return (keccak256(abi.encode(TX_HASH_TAG, signingHash, signature)), t);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title FlavumHashes: the hashing rules of flavum/core, mirrored byte for byte.
/// @notice Every hash is keccak256(abi.encode(TAG, fields...)) with TAG = keccak256("flavum.<name>")
/// (flavum/core/encoding.py). Binary trees pair neighbours, an odd last node with bytes32(0)
/// (flavum/core/merkle.py). The JSON vectors under tests/vectors/ pin both sides.
library FlavumHashes {
    bytes32 internal constant TREE_NODE_TAG = keccak256("flavum.tree.node");
    bytes32 internal constant TRACE_TAG = keccak256("flavum.batch.trace");
    bytes32 internal constant TRAINING_TAG = keccak256("flavum.batch.training");
    bytes32 internal constant ROWS_TAG = keccak256("flavum.batch.rows");
    bytes32 internal constant VERSION_TAG = keccak256("flavum.batch.version");
    bytes32 internal constant LINEAGE_TAG = keccak256("flavum.object.lineage");
    bytes32 internal constant WITHDRAWAL_TAG = keccak256("flavum.batch.withdrawal");
    bytes32 internal constant OUTPUTS_TAG = keccak256("flavum.batch.outputs");
    bytes32 internal constant HEADER_TAG = keccak256("flavum.batch.header");
    bytes32 internal constant ASSET_TAG = keccak256("flavum.asset");
    bytes32 internal constant TX_SIGN_TAG = keccak256("flavum.tx.sign");
    bytes32 internal constant TX_HASH_TAG = keccak256("flavum.tx.hash");
    // flavum.core.state: the state tree's keys and value preimages (FlavumStep, the escape hatch)
    bytes32 internal constant BALANCE_KEY_TAG = keccak256("flavum.state.balance");
    bytes32 internal constant OBJECT_KEY_TAG = keccak256("flavum.state.object");
    bytes32 internal constant AMOUNT_TAG = keccak256("flavum.value.amount");
    bytes32 internal constant OBJECT_TAG = keccak256("flavum.value.object");
    bytes32 internal constant ROLLUP_ID_TAG = keccak256("flavum.rollup.id");
    bytes32 internal constant MODEL_BINDING_TAG = keccak256("flavum.model.binding");
    bytes32 internal constant PUBLIC_ROW_TAG = keccak256("flavum.data.public_row");

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

    /// flavum.core.state.Object, field for field: an object's state leaf hashes
    /// abi.encode(OBJECT_TAG, object).
    struct Object {
        bytes32 objectId;
        uint8 kind;
        address owner;
        uint8 access;
        bytes32 commitment;
        bytes32 metadataHash;
        bytes32 vkHash;
        bytes32 feeAsset;
        uint256 fee;
        bytes32 modelId;
        bytes32 dataId;
    }

    /// flavum.core.model_binding.ModelBinding, field for field: a MODEL object's metadata hash
    /// is keccak256(abi.encode(MODEL_BINDING_TAG, binding)).
    struct ModelBinding {
        bytes32 recordHash;
        bytes32 srsHash;
        bytes32 verifierCodeHash; // zero: the model has no verifier of its own
        bytes32 vkaDigest;
        bytes32 reusableCodeHash;
        uint32 rows;
        uint32 inputs; // FlavumRollup.INPUTS_* in the low byte; public rows: the row width above
    }

    /// keccak256(abi.encode(TREE_NODE_TAG, left, right)), hashed in scratch memory past the
    /// free memory pointer: abi.encode would allocate 96 bytes per node, never freed.
    function treeNode(bytes32 left, bytes32 right) internal pure returns (bytes32 node) {
        bytes32 tag = TREE_NODE_TAG;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, tag)
            mstore(add(p, 0x20), left)
            mstore(add(p, 0x40), right)
            node := keccak256(p, 0x60)
        }
    }

    /// Root of the binary tree over `leaves` (bytes32(0) when empty). Overwrites `leaves`.
    function computeTreeRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) {
            return bytes32(0);
        }
        while (n > 1) {
            // n is a memory array's length: the index arithmetic cannot overflow.
            unchecked {
                uint256 parents = (n + 1) / 2;
                for (uint256 i = 0; i < parents; i++) {
                    bytes32 right = 2 * i + 1 < n ? leaves[2 * i + 1] : bytes32(0);
                    leaves[i] = treeNode(leaves[2 * i], right);
                }
                n = parents;
            }
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

    /// outputsHash of the signed values of ezkl public values (feltToSigned each), encoded in
    /// scratch memory past the free memory pointer: abi.encode(OUTPUTS_TAG, int256[]) is the
    /// tag, the offset 0x40, the count and the values. One per trace leaf rebuilt at posting.
    function outputsHashOfFelts(uint256[] calldata felts) internal pure returns (bytes32 h) {
        uint256 p;
        assembly ("memory-safe") {
            p := mload(0x40)
        }
        for (uint256 j = 0; j < felts.length; j++) {
            int256 value = feltToSigned(felts[j]); // allocates nothing unless it reverts
            assembly ("memory-safe") {
                mstore(add(p, add(0x60, mul(0x20, j))), value)
            }
        }
        bytes32 tag = OUTPUTS_TAG;
        assembly ("memory-safe") {
            mstore(p, tag)
            mstore(add(p, 0x20), 0x40)
            mstore(add(p, 0x40), felts.length)
            h := keccak256(p, add(0x60, mul(0x20, felts.length)))
        }
    }

    /// flavum.core.model_binding.compute_public_row_commitment: the DATA commitment of a row
    /// proven as public values, keccak256(PUBLIC_ROW_TAG || values as 32-byte words), hashed
    /// in scratch memory past the free memory pointer (one calldatacopy, no allocation).
    function publicRowCommitment(uint256[] calldata values) internal pure returns (bytes32 h) {
        bytes32 tag = PUBLIC_ROW_TAG;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, tag)
            let size := mul(0x20, values.length)
            calldatacopy(add(p, 0x20), values.offset, size)
            h := keccak256(p, add(0x20, size))
        }
    }

    /// The rows of a training one more row on (flavum.core.batch.compute_rows_hash).
    function rowsHashNext(bytes32 h, bytes32 commitment) internal pure returns (bytes32) {
        return keccak256(abi.encode(ROWS_TAG, h, commitment));
    }

    /// A training leaf's model word (flavum.core.batch.compute_training_word).
    function trainingWord(bytes32 stepModelId, bytes32 paramsIn, uint64 steps) internal pure returns (bytes32) {
        return keccak256(abi.encode(TRAINING_TAG, stepModelId, paramsIn, steps));
    }

    /// An inference on a trainable version's model word: its inference circuit's MODEL and its
    /// weights H(θ) (batch.compute_version_word).
    function versionWord(bytes32 circuitId, bytes32 weights) internal pure returns (bytes32) {
        return keccak256(abi.encode(VERSION_TAG, circuitId, weights));
    }

    /// keccak256(abi.encode(TRACE_TAG, txHash, modelId, inputCommitment, outputsHash_,
    /// resultId)), in scratch memory past the free memory pointer.
    function traceLeaf(
        bytes32 txHash,
        bytes32 modelId,
        bytes32 inputCommitment,
        bytes32 outputsHash_,
        bytes32 resultId
    ) internal pure returns (bytes32 leaf) {
        bytes32 tag = TRACE_TAG;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, tag)
            mstore(add(p, 0x20), txHash)
            mstore(add(p, 0x40), modelId)
            mstore(add(p, 0x60), inputCommitment)
            mstore(add(p, 0x80), outputsHash_)
            mstore(add(p, 0xa0), resultId)
            leaf := keccak256(p, 0xc0)
        }
    }

    /// A static struct ABI-encodes in place, exactly as its fields one after another.
    function withdrawalLeaf(Withdrawal calldata w) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAWAL_TAG, w));
    }

    function batchHash(Header calldata h) internal pure returns (bytes32) {
        return keccak256(abi.encode(HEADER_TAG, h));
    }

    /// flavum.core.state.compute_balance_key: the leaf of `account`'s balance of `asset`.
    function balanceKey(address account, bytes32 asset) internal pure returns (bytes32) {
        return keccak256(abi.encode(BALANCE_KEY_TAG, account, asset));
    }

    /// flavum.core.state.compute_object_key.
    function objectKey(bytes32 objectId) internal pure returns (bytes32) {
        return keccak256(abi.encode(OBJECT_KEY_TAG, objectId));
    }

    /// A balance leaf's value hash: keccak256 of compute_number_preimage(AMOUNT_TAG, amount).
    /// A zero balance has no leaf (bytes32(0): absent).
    function amountValueHash(uint256 amount) internal pure returns (bytes32) {
        return amount == 0 ? bytes32(0) : keccak256(abi.encode(AMOUNT_TAG, amount));
    }

    /// compute_object_preimage: what an object's leaf hashes.
    function objectPreimage(Object memory o) internal pure returns (bytes memory) {
        return abi.encode(OBJECT_TAG, o);
    }

    /// compute_model_binding_hash: the metadata hash of the MODEL object bound this way.
    function modelBindingHash(ModelBinding calldata b) internal pure returns (bytes32) {
        return keccak256(abi.encode(MODEL_BINDING_TAG, b));
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
        (bytes calldata body, bytes calldata signature) = envelopeBytes(raw);
        txType = uint8(_word(raw, 0));
        txHash = txHashOfFields(
            _word(raw, 0x20), bytes32(_word(raw, 0x40)), txType, address(uint160(_word(raw, 0x60))),
            uint64(_word(raw, 0x80)), body, signature
        );
    }

    /// The body and signature of a canonical envelope, read in place (nothing copied); reverts
    /// for any other bytes. abi.encode(uint8 type, uint256 chainId, bytes32 rollupId, address
    /// sender, uint64 nonce, bytes body, bytes signature) is exactly: seven head words (type,
    /// sender and nonce with zero high bits), the body's offset 0xe0, the signature's offset
    /// right after the body; each length word, its bytes, zero padding to a word; nothing more.
    /// That is what abi.decode followed by abi.encode gives back unchanged, as the node decodes.
    function envelopeBytes(bytes calldata raw) internal pure returns (bytes calldata body, bytes calldata signature) {
        (bool canonical, uint256 bodyLength, uint256 sigHead, uint256 sigLength) = _envelopeLayout(raw);
        require(canonical, "transaction is not canonically encoded");
        body = raw[0x100:0x100 + bodyLength];
        signature = raw[sigHead + 0x20:sigHead + 0x20 + sigLength];
    }

    /// Is `raw` a canonical envelope (envelopeBytes), and where are its body and signature?
    /// Each word is read only once the lengths checked before it put it within `raw`.
    function _envelopeLayout(bytes calldata raw)
        private
        pure
        returns (bool canonical, uint256 bodyLength, uint256 sigHead, uint256 sigLength)
    {
        if (raw.length < 0x120) return (false, 0, 0, 0);
        if (_word(raw, 0) > type(uint8).max || _word(raw, 0x60) > type(uint160).max) return (false, 0, 0, 0);
        if (_word(raw, 0x80) > type(uint64).max || _word(raw, 0xa0) != 0xe0) return (false, 0, 0, 0);
        bodyLength = _word(raw, 0xe0);
        if (bodyLength > raw.length) return (false, 0, 0, 0); // bounds the sums below
        sigHead = 0x100 + _padded(bodyLength);
        if (_word(raw, 0xc0) != sigHead || raw.length < sigHead + 0x20) return (false, 0, 0, 0);
        sigLength = _word(raw, sigHead);
        if (sigLength > raw.length || raw.length != sigHead + 0x20 + _padded(sigLength)) return (false, 0, 0, 0);
        canonical = _isZeroPadded(raw, 0x100 + bodyLength, sigHead)
            && _isZeroPadded(raw, sigHead + 0x20 + sigLength, raw.length);
    }

    /// Word `at` of `data` (read with calldataload: a slice conversion would copy to memory).
    /// Callers bound `at + 32` by data.length first.
    function _word(bytes calldata data, uint256 at) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(data.offset, at))
        }
    }

    function _padded(uint256 length) private pure returns (uint256) {
        return (length + 31) / 32 * 32;
    }

    /// Are bytes [from, to) of `data` zero? `to - from` is under a word, `to` at least a word.
    function _isZeroPadded(bytes calldata data, uint256 from, uint256 to) private pure returns (bool) {
        return from == to || _word(data, to - 0x20) & ((1 << (8 * (to - from))) - 1) == 0;
    }

    /// The tx hash from the envelope's fields, the body and signature read from calldata:
    /// keccak256(abi.encode(TX_HASH_TAG, signingHash, signature)) with signingHash =
    /// keccak256(abi.encode(TX_SIGN_TAG, chainId, rollupId, txType, sender, nonce,
    /// keccak256(body))), each encoding written in scratch memory past the free memory pointer
    /// (nothing allocated: a batch hashes every transaction).
    function txHashOfFields(
        uint256 chainId,
        bytes32 rollupId,
        uint8 txType,
        address sender,
        uint64 nonce,
        bytes calldata body,
        bytes calldata signature
    ) internal pure returns (bytes32 txHash) {
        bytes32 signTag = TX_SIGN_TAG;
        bytes32 hashTag = TX_HASH_TAG;
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, body.offset, body.length)
            let bodyHash := keccak256(p, body.length)
            mstore(p, signTag)
            mstore(add(p, 0x20), chainId)
            mstore(add(p, 0x40), rollupId)
            mstore(add(p, 0x60), and(txType, 0xff))
            mstore(add(p, 0x80), and(sender, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(p, 0xa0), and(nonce, 0xffffffffffffffff))
            mstore(add(p, 0xc0), bodyHash)
            let signingHash := keccak256(p, 0xe0)
            // abi.encode(bytes32, bytes32, bytes): the bytes at offset 0x60, zero-padded.
            mstore(p, hashTag)
            mstore(add(p, 0x20), signingHash)
            mstore(add(p, 0x40), 0x60)
            mstore(add(p, 0x60), signature.length)
            calldatacopy(add(p, 0x80), signature.offset, signature.length)
            mstore(add(add(p, 0x80), signature.length), 0)
            txHash := keccak256(p, add(0x80, mul(div(add(signature.length, 31), 32), 32)))
        }
    }

    /// The id of the rollup whose contract is `rollup` on chain `chainId`
    /// (flavum.core.state.compute_rollup_id): every transaction signs it.
    function rollupIdOf(uint256 chainId, address rollup) internal pure returns (bytes32) {
        return keccak256(abi.encode(ROLLUP_ID_TAG, chainId, rollup));
    }
}

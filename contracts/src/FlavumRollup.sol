// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";
import {ModelRegistry} from "./ModelRegistry.sol";

/// @title FlavumRollup: accepts batch headers in order, each only with valid inference proofs.
/// @notice For every proof in a batch the model's verifier is called; the trace leaves are then
/// rebuilt from the public values the verifier just accepted (input commitments, outputs) and
/// the (tx hash, result id) rows the poster names, and must hash to the header's trace root.
/// Users may queue signed rollup transactions here (forced inclusion): a batch must process
/// every queued request that is older than `forcedWindow` blocks.
contract FlavumRollup {
    /// One verifier call, covering the rows (txHashes[r], resultIds[r]). Their count and how the
    /// public values are read are the model's, as the ModelRegistry pinned them:
    /// perRowInputs false: public values [input commitment, outputs...]; the outputs are split
    /// into `rows` equal slices, one trace leaf each, all with the one input commitment.
    /// perRowInputs true (a batched model with one input commitment per row): public values
    /// [c_0, ..., c_{N-1}, outputs of row 0, ..., outputs of row N-1] with N = rows;
    /// row r's leaf has commitment c_r and the r-th equal slice of the outputs. A padding row
    /// (tx hash and result id both zero: the proof's rows beyond the real ones) has no leaf.
    struct Inference {
        bytes32 modelId;
        bytes proof;
        uint256[] instances;
        bytes32[] vka; // empty for a model with its own verifier
        bytes32[] txHashes;
        bytes32[] resultIds;
    }

    /// How a batch processes forced request `requestId`: included (its tx hash is at `txIndex`
    /// of the batch's tx tree) or refused (the rollup found the transaction invalid).
    struct ForcedInclusion {
        uint256 requestId;
        bool included;
        uint256 txIndex;
        bytes32[] txProof;
    }

    struct ForcedRequest {
        bytes32 txHash;
        address requester;
        uint64 queuedAtBlock;
    }

    struct Batch {
        bytes32 batchHash;
        bytes32 withdrawalRoot;
    }

    address public immutable sequencer;
    ModelRegistry public immutable registry;
    uint256 public immutable forcedWindow; // blocks
    uint8 internal constant WITHDRAW_TX_TYPE = 7; // flavum.core.transactions.TxType.WITHDRAW

    uint64 public nextBatchNumber;
    bytes32 public lastStateRoot;
    mapping(uint256 => Batch) public batches;
    ForcedRequest[] private forcedQueue;
    uint256 public forcedHead; // requests before it are processed

    event BatchAccepted(
        uint64 indexed number, bytes32 batchHash, bytes32 stateRoot, bytes32 withdrawalRoot, uint256 inferences
    );
    /// The batch's data (the blob whose sha256 is the header's data pointer) travels in the
    /// calldata of the transaction that emitted this: read it back from there.
    event BatchDataPosted(uint64 indexed number, bytes32 indexed dataPointer, uint256 size);
    event ForcedRequestQueued(uint256 indexed requestId, bytes32 indexed txHash, address requester, bytes rawTx);
    event ForcedRequestProcessed(uint256 indexed requestId, uint64 indexed batchNumber, bool included);

    constructor(address sequencer_, ModelRegistry registry_, bytes32 genesisStateRoot, uint256 forcedWindow_) {
        sequencer = sequencer_;
        registry = registry_;
        lastStateRoot = genesisStateRoot;
        forcedWindow = forcedWindow_;
    }

    // --- forced inclusion -----------------------------------------------------------------

    /// Queue a signed rollup Withdraw transaction (its wire encoding) for forced inclusion.
    function queueForcedTransaction(bytes calldata rawTx) external returns (uint256 requestId) {
        (bytes32 txHash, uint8 txType) = FlavumHashes.txHashOf(rawTx);
        require(txType == WITHDRAW_TX_TYPE, "only Withdraw transactions can be forced");
        requestId = forcedQueue.length;
        forcedQueue.push(ForcedRequest(txHash, msg.sender, uint64(block.number)));
        emit ForcedRequestQueued(requestId, txHash, msg.sender, rawTx);
    }

    function forcedRequestCount() external view returns (uint256) {
        return forcedQueue.length;
    }

    function forcedRequest(uint256 requestId) external view returns (ForcedRequest memory) {
        return forcedQueue[requestId];
    }

    // --- batches ----------------------------------------------------------------------------

    function submitBatch(
        FlavumHashes.Header calldata header,
        Inference[] calldata inferences,
        ForcedInclusion[] calldata forced
    ) external {
        _acceptBatch(header, inferences, forced);
    }

    /// submitBatch with the batch's data in the calldata (EVM calldata data availability).
    /// The data must be the blob the header points to: sha256(data) == header.dataPointer
    /// (the sha256 precompile), so an accepted batch's data is on chain for anyone to read.
    function submitBatchWithData(
        FlavumHashes.Header calldata header,
        Inference[] calldata inferences,
        ForcedInclusion[] calldata forced,
        bytes calldata data
    ) external {
        require(sha256(data) == header.dataPointer, "batch data does not hash to the data pointer");
        _acceptBatch(header, inferences, forced);
        emit BatchDataPosted(header.number, header.dataPointer, data.length);
    }

    function _acceptBatch(
        FlavumHashes.Header calldata header,
        Inference[] calldata inferences,
        ForcedInclusion[] calldata forced
    ) private {
        require(msg.sender == sequencer, "only the sequencer posts batches");
        require(header.number == nextBatchNumber, "batch number out of order");
        require(header.prevStateRoot == lastStateRoot, "previous state root mismatch");

        _processForced(header, forced);
        require(_computeTraceRoot(inferences) == header.traceRoot, "trace root mismatch");

        bytes32 batchHash = FlavumHashes.batchHash(header);
        batches[header.number] = Batch(batchHash, header.withdrawalRoot);
        lastStateRoot = header.stateRoot;
        nextBatchNumber = header.number + 1;
        emit BatchAccepted(header.number, batchHash, header.stateRoot, header.withdrawalRoot, inferences.length);
    }

    /// The withdrawal root of an accepted batch; reverts for a batch not (yet) accepted.
    function withdrawalRoot(uint256 number) external view returns (bytes32) {
        require(number < nextBatchNumber, "batch not accepted");
        return batches[number].withdrawalRoot;
    }

    function _processForced(FlavumHashes.Header calldata header, ForcedInclusion[] calldata forced) private {
        uint256 head = forcedHead;
        for (uint256 i = 0; i < forced.length; i++) {
            ForcedInclusion calldata f = forced[i];
            // In queue order, none skipped: the oldest request is always dealt with first.
            require(f.requestId == head, "forced requests out of order");
            if (f.included) {
                bytes32 txHash = forcedQueue[head].txHash;
                require(
                    FlavumHashes.verifyTreeProof(header.txRoot, txHash, f.txIndex, f.txProof),
                    "forced transaction not in the tx root"
                );
            }
            emit ForcedRequestProcessed(head, header.number, f.included);
            head++;
        }
        forcedHead = head;
        // The oldest request left must still be within its window.
        require(
            head == forcedQueue.length || block.number < uint256(forcedQueue[head].queuedAtBlock) + forcedWindow,
            "batch skips an overdue forced request"
        );
    }

    /// Verify every proof and return the root of the trace leaves rebuilt from their public values.
    function _computeTraceRoot(Inference[] calldata inferences) private returns (bytes32) {
        ModelRegistry.Model[] memory models = new ModelRegistry.Model[](inferences.length);
        uint256 total = 0;
        for (uint256 i = 0; i < inferences.length; i++) {
            models[i] = _registered(inferences[i]);
            total += _leafCount(inferences[i], models[i].perRowInputs);
        }
        bytes32[] memory leaves = new bytes32[](total);
        uint256 next = 0;
        for (uint256 i = 0; i < inferences.length; i++) {
            Inference calldata inf = inferences[i];
            _verifyProof(inf, models[i]);
            next = _appendLeaves(inf, models[i].perRowInputs, leaves, next);
        }
        return FlavumHashes.computeTreeRoot(leaves);
    }

    /// The model of an inference, which must name exactly the rows its registration pinned.
    function _registered(Inference calldata inf) private view returns (ModelRegistry.Model memory model) {
        model = registry.getModel(inf.modelId);
        require(model.verifier != address(0), "model not registered");
        require(
            inf.txHashes.length == model.rows && inf.resultIds.length == model.rows,
            "rows differ from the model's registration"
        );
    }

    function _verifyProof(Inference calldata inf, ModelRegistry.Model memory model) private {
        bool ok;
        bytes memory ret;
        if (model.reusable) {
            require(
                registry.vkaAllowed(inf.modelId, keccak256(abi.encodePacked(inf.vka))),
                "VKA not allowed for this model"
            );
            (ok, ret) = model.verifier.call(
                abi.encodeWithSignature("verifyProof(bytes,uint256[],bytes32[])", inf.proof, inf.instances, inf.vka)
            );
        } else {
            (ok, ret) = model.verifier.call(
                abi.encodeWithSignature("verifyProof(bytes,uint256[])", inf.proof, inf.instances)
            );
        }
        // ezkl verifiers revert on most bad proofs, but may return false (e.g. out of gas).
        require(ok && ret.length >= 32 && abi.decode(ret, (uint256)) == 1, "proof rejected by the verifier");
    }

    /// How many trace leaves an inference yields: one per row, padding rows excepted.
    function _leafCount(Inference calldata inf, bool perRowInputs) private pure returns (uint256 count) {
        if (!perRowInputs) {
            return inf.txHashes.length;
        }
        for (uint256 r = 0; r < inf.txHashes.length; r++) {
            if (inf.txHashes[r] != bytes32(0)) {
                count++;
            }
        }
    }

    function _appendLeaves(Inference calldata inf, bool perRowInputs, bytes32[] memory leaves, uint256 next)
        private
        pure
        returns (uint256)
    {
        uint256 rows = inf.txHashes.length;
        if (perRowInputs) {
            return _appendRowLeaves(inf, leaves, next);
        }
        // instances[0] is the input commitment (hashed input); the rest are outputs.
        require(inf.instances.length > 1, "proof exposes no outputs");
        uint256 perRow = (inf.instances.length - 1) / rows;
        require(perRow * rows == inf.instances.length - 1, "outputs do not split into the rows");
        bytes32 inputCommitment = bytes32(inf.instances[0]);
        for (uint256 r = 0; r < rows; r++) {
            leaves[next++] = _rowLeaf(inf, r, inputCommitment, 1 + r * perRow, perRow);
        }
        return next;
    }

    /// The leaves of a proof with one input commitment per row: instances[r] is row r's
    /// commitment, the N * perRow values after the N commitments are the outputs, row-major.
    function _appendRowLeaves(Inference calldata inf, bytes32[] memory leaves, uint256 next)
        private
        pure
        returns (uint256)
    {
        uint256 rows = inf.txHashes.length;
        require(inf.instances.length > rows, "proof exposes no outputs");
        uint256 outputCount = inf.instances.length - rows;
        uint256 perRow = outputCount / rows;
        require(perRow * rows == outputCount, "outputs do not split into the rows");
        uint256 first = next;
        for (uint256 r = 0; r < rows; r++) {
            if (inf.txHashes[r] == bytes32(0)) {
                // Padding (a copy of the last real row, filling the circuit's N rows): no leaf.
                require(inf.resultIds[r] == bytes32(0), "a padding row names a result");
                continue;
            }
            leaves[next++] = _rowLeaf(inf, r, bytes32(inf.instances[r]), rows + r * perRow, perRow);
        }
        // A proof of padding only proves nothing the trace holds.
        require(next > first, "an inference has no real row");
        return next;
    }

    /// Row r's trace leaf: its outputs are instances[start .. start + count).
    function _rowLeaf(Inference calldata inf, uint256 r, bytes32 inputCommitment, uint256 start, uint256 count)
        private
        pure
        returns (bytes32)
    {
        int256[] memory outputs = new int256[](count);
        for (uint256 j = 0; j < count; j++) {
            outputs[j] = FlavumHashes.feltToSigned(inf.instances[start + j]);
        }
        return FlavumHashes.traceLeaf(
            inf.txHashes[r], inf.modelId, inputCommitment, FlavumHashes.outputsHash(outputs), inf.resultIds[r]
        );
    }
}

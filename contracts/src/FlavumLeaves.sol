// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";

// How the rollup reads a proof's public values: a registration's layout word (ModelRegistry,
// flavum.core.model_binding.INPUTS_*), the mode in its low byte, see FlavumRollup.Inference.
uint8 constant INPUTS_ONE = 0;
uint8 constant INPUTS_PER_ROW = 1;
uint8 constant INPUTS_ROW_POINTS = 2;
uint8 constant INPUTS_TRAINING_STEP = 3;
uint8 constant INPUTS_PUBLIC_ROWS = 4; // the row width (values per row) above the mode byte
uint8 constant INPUTS_VERSION = 5; // a trainable architecture's inference circuit: [H(θ), H(row), outputs]
uint256 constant POINT_BYTES = 64;

/// @title FlavumLeaves: the trace leaves of one inference proof, read from the public values
/// its verifier accepted, as its model's layout says (FlavumRollup.Inference).
/// @notice Pure and stateless. FlavumRollup creates it in its constructor and calls it once per
/// proof: the rollup's own code stays under EIP-170's 24,576 bytes.
contract FlavumLeaves {
    /// The leaves of the proof of `modelId` over the rows (txHashes[r], resultIds[r]), with
    /// public values `instances`, read with layout word `inputs` (not a training step's: the
    /// rollup chains those itself). `points`: the proof's bytes for INPUTS_ROW_POINTS (its r-th
    /// 64 bytes are row r's KZG point), else empty. Padding rows have no leaf.
    function leaves(
        bytes32 modelId,
        uint32 inputs,
        bytes32[] calldata txHashes,
        bytes32[] calldata resultIds,
        uint256[] calldata instances,
        bytes calldata points
    ) external pure returns (bytes32[] memory out) {
        uint256 rows = txHashes.length;
        if (inputs == INPUTS_ONE) {
            // instances[0] is the input commitment (hashed input); the rest are outputs.
            require(instances.length > 1, "proof exposes no outputs");
            uint256 perRow = (instances.length - 1) / rows;
            require(perRow * rows == instances.length - 1, "outputs do not split into the rows");
            out = new bytes32[](rows);
            for (uint256 r = 0; r < rows; r++) {
                out[r] = _leaf(modelId, txHashes[r], resultIds[r], bytes32(instances[0]),
                    instances[1 + r * perRow:1 + (r + 1) * perRow]);
            }
            return out;
        }
        if (inputs == INPUTS_VERSION) {
            return _versionLeaf(modelId, txHashes, resultIds, instances);
        }
        (bytes32[] memory commitments, uint256 heads) = _commitments(inputs, txHashes, instances, points);
        return _rowLeaves(modelId, txHashes, resultIds, instances, commitments, heads);
    }

    /// The leaf of an inference on a trainable version, proven by its architecture's inference
    /// circuit `circuitId` (one row): public values [H(θ), H(row), outputs...]. The model word
    /// binds the weights the proof took (FlavumHashes.versionWord), so a proof made with another
    /// version's weights gives another leaf, which the trace root does not hold.
    function _versionLeaf(
        bytes32 circuitId,
        bytes32[] calldata txHashes,
        bytes32[] calldata resultIds,
        uint256[] calldata instances
    ) private pure returns (bytes32[] memory out) {
        require(txHashes.length == 1, "a version's inference proves one row");
        require(txHashes[0] != bytes32(0), "an inference has no real row");
        require(instances.length > 2, "proof exposes no outputs");
        out = new bytes32[](1);
        out[0] = _leaf(FlavumHashes.versionWord(circuitId, bytes32(instances[0])), txHashes[0], resultIds[0],
            bytes32(instances[1]), instances[2:]);
    }

    /// The leaves of a proof with one input commitment per row: instances[r] is row r's
    /// commitment, the N * perRow values after the N commitments are the outputs, row-major;
    /// with row points, row r's commitment is keccak256 of the proof's r-th point and every
    /// public value is an output; with public rows of `width` values, the N rows come first
    /// and row r's commitment is the publicRowCommitment of its values.
    function _rowLeaves(
        bytes32 modelId,
        bytes32[] calldata txHashes,
        bytes32[] calldata resultIds,
        uint256[] calldata instances,
        bytes32[] memory commitments, // row r's (see _commitments)
        uint256 heads // public values before the outputs
    ) private pure returns (bytes32[] memory out) {
        uint256 perRow = (instances.length - heads) / txHashes.length;
        require(perRow * txHashes.length == instances.length - heads, "outputs do not split into the rows");
        out = new bytes32[](txHashes.length);
        uint256 count = 0;
        for (uint256 r = 0; r < txHashes.length; r++) {
            if (txHashes[r] == bytes32(0)) {
                // Padding (a copy of the last real row, filling the circuit's N rows): no leaf.
                require(resultIds[r] == bytes32(0), "a padding row names a result");
                continue;
            }
            uint256 start = heads + r * perRow;
            out[count++] = _leaf(modelId, txHashes[r], resultIds[r], commitments[r], instances[start:start + perRow]);
        }
        // A proof of padding only proves nothing the trace holds.
        require(count > 0, "an inference has no real row");
        assembly ("memory-safe") {
            mstore(out, count) // the real rows' leaves only
        }
    }

    /// Each real row's input commitment, read as the layout says (see FlavumRollup.Inference),
    /// and how many public values precede the outputs.
    function _commitments(uint32 inputs, bytes32[] calldata txHashes, uint256[] calldata instances,
        bytes calldata points) private pure returns (bytes32[] memory commitments, uint256 heads)
    {
        uint256 rows = txHashes.length;
        heads = _rowHeads(rows, inputs, instances.length, points.length);
        commitments = new bytes32[](rows);
        uint256 width = inputs >> 8;
        for (uint256 r = 0; r < rows; r++) {
            if (txHashes[r] == bytes32(0)) continue; // padding: no leaf
            if (uint8(inputs) == INPUTS_ROW_POINTS) {
                commitments[r] = keccak256(points[r * POINT_BYTES:(r + 1) * POINT_BYTES]);
            } else if (width > 0) {
                commitments[r] = FlavumHashes.publicRowCommitment(instances[r * width:(r + 1) * width]);
            } else {
                commitments[r] = bytes32(instances[r]);
            }
        }
    }

    /// How many public values precede the outputs in a proof with per-row inputs (and the
    /// checks that the proof holds what its layout says).
    function _rowHeads(uint256 rows, uint32 inputs, uint256 values, uint256 pointBytes)
        private
        pure
        returns (uint256 heads)
    {
        uint8 mode = uint8(inputs);
        uint256 width = inputs >> 8;
        require(
            mode <= INPUTS_PUBLIC_ROWS && mode != INPUTS_TRAINING_STEP
                && (mode == INPUTS_PUBLIC_ROWS) == (width > 0),
            "not an inputs layout"
        );
        if (mode == INPUTS_ROW_POINTS) {
            require(pointBytes >= rows * POINT_BYTES, "proof holds no point per row");
        }
        heads = mode == INPUTS_ROW_POINTS ? 0 : mode == INPUTS_PUBLIC_ROWS ? rows * width : rows;
        require(values > heads, "proof exposes no outputs");
    }

    /// A row's trace leaf, its outputs the public values `outputs`.
    function _leaf(bytes32 modelId, bytes32 txHash, bytes32 resultId, bytes32 inputCommitment,
        uint256[] calldata outputs) private pure returns (bytes32)
    {
        return FlavumHashes.traceLeaf(txHash, modelId, inputCommitment, FlavumHashes.outputsHashOfFelts(outputs),
            resultId);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";

/// @title FlavumHashesHarness: FlavumHashes as external calls, for the byte-for-byte tests.
contract FlavumHashesHarness {
    function tags() external pure returns (bytes32[8] memory) {
        return [
            FlavumHashes.TREE_NODE_TAG, FlavumHashes.TRACE_TAG, FlavumHashes.WITHDRAWAL_TAG,
            FlavumHashes.OUTPUTS_TAG, FlavumHashes.HEADER_TAG, FlavumHashes.ASSET_TAG,
            FlavumHashes.TX_SIGN_TAG, FlavumHashes.TX_HASH_TAG
        ];
    }

    function computeTreeRoot(bytes32[] memory leaves) external pure returns (bytes32) {
        return FlavumHashes.computeTreeRoot(leaves);
    }

    function verifyTreeProof(bytes32 root, bytes32 leaf, uint256 index, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        return FlavumHashes.verifyTreeProof(root, leaf, index, proof);
    }

    function outputsHash(int256[] memory outputs) external pure returns (bytes32) {
        return FlavumHashes.outputsHash(outputs);
    }

    function outputsHashOfFelts(uint256[] calldata felts) external pure returns (bytes32) {
        return FlavumHashes.outputsHashOfFelts(felts);
    }

    function traceLeaf(bytes32 txHash, bytes32 modelId, bytes32 inputCommitment, int256[] memory outputs, bytes32 resultId)
        external
        pure
        returns (bytes32)
    {
        return FlavumHashes.traceLeaf(txHash, modelId, inputCommitment, FlavumHashes.outputsHash(outputs), resultId);
    }

    function withdrawalLeaf(FlavumHashes.Withdrawal calldata w) external pure returns (bytes32) {
        return FlavumHashes.withdrawalLeaf(w);
    }

    function batchHash(FlavumHashes.Header calldata h) external pure returns (bytes32) {
        return FlavumHashes.batchHash(h);
    }

    function assetId(bytes32 ledger, address token) external pure returns (bytes32) {
        return FlavumHashes.assetId(ledger, token);
    }

    function balanceKey(address account, bytes32 asset) external pure returns (bytes32) {
        return FlavumHashes.balanceKey(account, asset);
    }

    function objectKey(bytes32 objectId) external pure returns (bytes32) {
        return FlavumHashes.objectKey(objectId);
    }

    function amountValueHash(uint256 amount) external pure returns (bytes32) {
        return FlavumHashes.amountValueHash(amount);
    }

    function objectValueHash(FlavumHashes.Object calldata o) external pure returns (bytes32) {
        return keccak256(FlavumHashes.objectPreimage(o));
    }

    function feltToSigned(uint256 felt) external pure returns (int256) {
        return FlavumHashes.feltToSigned(felt);
    }

    function txHashOf(bytes calldata raw) external pure returns (bytes32 txHash, uint8 txType) {
        return FlavumHashes.txHashOf(raw);
    }

    function rollupIdOf(uint256 chainId, address rollup) external pure returns (bytes32) {
        return FlavumHashes.rollupIdOf(chainId, rollup);
    }

    function publicRowCommitment(uint256[] calldata values) external pure returns (bytes32) {
        return FlavumHashes.publicRowCommitment(values);
    }

    function modelBindingHash(FlavumHashes.ModelBinding calldata b) external pure returns (bytes32) {
        return FlavumHashes.modelBindingHash(b);
    }
}

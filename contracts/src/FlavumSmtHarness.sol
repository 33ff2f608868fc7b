// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumSmt} from "./FlavumSmt.sol";

/// @title FlavumSmtHarness: FlavumSmt as external calls, for the differential tests and gas.
contract FlavumSmtHarness {
    function tags() external pure returns (bytes32 leafTag, bytes32 nodeTag) {
        return (FlavumSmt.LEAF_TAG, FlavumSmt.NODE_TAG);
    }

    function verify(bytes32 root, bytes32 key, bytes32 valueHash, FlavumSmt.Proof memory p)
        external
        pure
        returns (bool)
    {
        return FlavumSmt.verify(root, key, valueHash, p);
    }

    function update(
        bytes32 root,
        bytes32 key,
        bytes32 oldValueHash,
        bytes32 newValueHash,
        FlavumSmt.Proof memory p,
        FlavumSmt.Sibling memory s
    ) external pure returns (bytes32) {
        return FlavumSmt.update(root, key, oldValueHash, newValueHash, p, s);
    }

    /// `update` with the gas the library alone spends (the arguments already in memory, as a
    /// caller that builds them has them): what calldata and decoding cost is left out.
    function updateGas(
        bytes32 root,
        bytes32 key,
        bytes32 oldValueHash,
        bytes32 newValueHash,
        FlavumSmt.Proof memory p,
        FlavumSmt.Sibling memory s
    ) external view returns (bytes32 newRoot, uint256 gasUsed) {
        uint256 start = gasleft();
        newRoot = FlavumSmt.update(root, key, oldValueHash, newValueHash, p, s);
        gasUsed = start - gasleft();
    }
}

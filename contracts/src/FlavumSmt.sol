// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title FlavumSmt: proofs of the rollup's state tree, and its root after one leaf changes.
/// @notice The compact sparse Merkle tree of flavum/core/merkle.py (its module docstring defines
/// the layout): a lone leaf is keccak256(abi.encode(LEAF_TAG, key, valueHash)) wherever it sits,
/// an inner node keccak256(abi.encode(NODE_TAG, left, right)), an empty subtree bytes32(0); bit d
/// of uint256(key), from the most significant, picks the child at depth d (1 = right).
/// `verify` is merkle.verify_smt_proof; `update` is merkle_update.compute_updated_root, line for
/// line (its module docstring gives the algorithm). A value hash of bytes32(0) means "absent":
/// real value hashes are keccak outputs. Neither function writes to its memory arguments.
library FlavumSmt {
    bytes32 internal constant LEAF_TAG = keccak256("flavum.smt.leaf");
    bytes32 internal constant NODE_TAG = keccak256("flavum.smt.node");
    uint8 internal constant SIBLING_LEAF = 1;
    uint8 internal constant SIBLING_NODE = 2;

    /// The path of a key: siblings from depth 0 down to where the path ends (n = length). It ends
    /// at the key's own leaf, at an empty subtree, or (hasOther) at another key's lone leaf;
    /// otherKey and otherValueHash are read only when hasOther.
    struct Proof {
        bytes32[] siblings;
        bool hasOther;
        bytes32 otherKey;
        bytes32 otherValueHash;
    }

    /// Preimage of siblings[n-1], needed only to delete a leaf: kind SIBLING_LEAF is a lone leaf
    /// (a = its key, b = its value hash), kind SIBLING_NODE an inner node (a = left, b = right).
    struct Sibling {
        uint8 kind;
        bytes32 a;
        bytes32 b;
    }

    function leafHash(bytes32 key, bytes32 valueHash) internal pure returns (bytes32) {
        return _hash3(LEAF_TAG, key, valueHash);
    }

    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return _hash3(NODE_TAG, left, right);
    }

    /// Does `p` show key -> valueHash (0: key absent) under `root`? False, never a revert.
    function verify(bytes32 root, bytes32 key, bytes32 valueHash, Proof memory p) internal pure returns (bool) {
        uint256 n = p.siblings.length;
        if (n > 256) {
            return false;
        }
        bytes32 h;
        if (valueHash != 0) {
            if (p.hasOther) {
                return false;
            }
            h = leafHash(key, valueHash);
        } else if (p.hasOther) {
            if (p.otherKey == key || !_sharesPrefix(key, p.otherKey, n)) {
                return false;
            }
            h = leafHash(p.otherKey, p.otherValueHash);
        }
        return _climb(uint256(key), p.siblings, n, h) == root;
    }

    /// The root once key's value hash goes from oldValueHash to newValueHash (0 = absent: an
    /// insert from 0, a delete to 0). Reverts unless `p` proves key -> oldValueHash under `root`,
    /// and, to delete a leaf that has a sibling, unless `s` is that sibling's preimage.
    function update(
        bytes32 root,
        bytes32 key,
        bytes32 oldValueHash,
        bytes32 newValueHash,
        Proof memory p,
        Sibling memory s
    ) internal pure returns (bytes32 newRoot) {
        bytes32[] memory siblings = p.siblings;
        uint256 n = siblings.length;
        require(n <= 256, "FlavumSmt: proof longer than 256");
        uint256 k = uint256(key);
        // The bottom of the proven path, as in verify but with a reason for each refusal.
        bytes32 bottom;
        if (oldValueHash != 0) {
            require(!p.hasOther, "FlavumSmt: inclusion proof ends at another leaf");
            bottom = leafHash(key, oldValueHash);
        } else if (p.hasOther) {
            require(p.otherKey != key, "FlavumSmt: other leaf has the key itself");
            require(_sharesPrefix(key, p.otherKey, n), "FlavumSmt: other leaf is off the key's path");
            bottom = leafHash(p.otherKey, p.otherValueHash);
        }
        require(_climb(k, siblings, n, bottom) == root, "FlavumSmt: proof does not match root");
        if (oldValueHash == newValueHash) {
            return root;
        }
        if (newValueHash != 0) {
            bytes32 leaf = leafHash(key, newValueHash);
            if (oldValueHash != 0 || !p.hasOther) {
                // Replace the key's leaf, or fill the empty subtree at depth n.
                return _climb(k, siblings, n, leaf);
            }
            // Both leaves go down to the first bit where the keys differ (>= n: they share n
            // bits), under an inner node there; every level from n to it has an empty sibling.
            uint256 split = 255 - _highestBit(k ^ uint256(p.otherKey));
            bytes32 h = _bit(k, split) == 1 ? nodeHash(bottom, leaf) : nodeHash(leaf, bottom);
            for (uint256 d = split; d > n;) {
                d--;
                h = _bit(k, d) == 1 ? nodeHash(0, h) : nodeHash(h, 0);
            }
            return _climb(k, siblings, n, h);
        }
        // Delete: the key's leaf at depth n goes.
        if (n == 0) {
            return 0;
        }
        bytes32 last = siblings[n - 1];
        // A parent holding one leaf would have collapsed into it: the tree is not canonical.
        require(last != 0, "FlavumSmt: deleted leaf's sibling is empty");
        if (s.kind == SIBLING_NODE) {
            require(nodeHash(s.a, s.b) == last, "FlavumSmt: sibling is not that inner node");
            // The parent keeps the two or more leaves of the sibling: the leaf's place empties.
            return _climb(k, siblings, n, 0);
        }
        require(s.kind == SIBLING_LEAF, "FlavumSmt: sibling kind is neither leaf nor node");
        require(leafHash(s.a, s.b) == last, "FlavumSmt: sibling is not that leaf");
        // A sibling leaf shares the first n-1 bits with the key and differs at bit n-1.
        require(
            _sharesPrefix(s.a, key, n - 1) && !_sharesPrefix(s.a, key, n), "FlavumSmt: sibling leaf is off its place"
        );
        // Left alone, the sibling leaf moves up past every level whose other child is empty.
        uint256 depth = n - 1;
        while (depth > 0 && siblings[depth - 1] == 0) {
            depth--;
        }
        return _climb(k, siblings, depth, last);
    }

    /// The root above `h`, the node at depth `depth` on key's path, hashed up with siblings[0..depth).
    function _climb(uint256 k, bytes32[] memory siblings, uint256 depth, bytes32 h) private pure returns (bytes32) {
        for (uint256 d = depth; d > 0;) {
            unchecked {
                d--;
            }
            bytes32 sibling = siblings[d];
            h = _bit(k, d) == 1 ? nodeHash(sibling, h) : nodeHash(h, sibling);
        }
        return h;
    }

    /// keccak256(abi.encode(a, b, c)), hashed in the free memory without claiming it: abi.encode
    /// would allocate 128 bytes per hash, and a path takes up to 512 hashes.
    function _hash3(bytes32 a, bytes32 b, bytes32 c) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, a)
            mstore(add(m, 0x20), b)
            mstore(add(m, 0x40), c)
            h := keccak256(m, 0x60)
        }
    }

    function _bit(uint256 k, uint256 depth) private pure returns (uint256) {
        return (k >> (255 - depth)) & 1;
    }

    /// Do the keys agree on their first n bits? (A shift by 256 gives 0: n = 0 always agrees.)
    function _sharesPrefix(bytes32 a, bytes32 b, uint256 n) private pure returns (bool) {
        return uint256(a ^ b) >> (256 - n) == 0;
    }

    /// Index, from the least significant, of the highest set bit of x (x != 0).
    function _highestBit(uint256 x) private pure returns (uint256 r) {
        for (uint256 step = 128; step > 0; step >>= 1) {
            if (x >> step != 0) {
                x >>= step;
                r += step;
            }
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";
import {FlavumObjects} from "./FlavumObjects.sol";
import {FlavumSmt} from "./FlavumSmt.sol";

interface IRollupRoots {
    function withdrawalRoot(uint256 number) external view returns (bytes32);
    function escaped() external view returns (bool);
    function escapeRoot() external view returns (bytes32);
    function depositsConsumed() external view returns (uint256);
}

interface IERC20Like {
    function balanceOf(address owner) external view returns (uint256);
}

/// @title FlavumBridge: deposits into the rollup and withdrawals out of it, for one ledger.
/// @notice Deposits of ETH, ERC-20 tokens and data (a 32-byte commitment and an optional
/// payload) emit `Deposited`; the node's ledger watcher turns each into one Deposit transaction.
/// The bridge is the rollup's deposit inbox: deposit number `index` stores the keccak256 of the
/// Deposit body it must become (flavum.core.transactions.Deposit, ABI-encoded), with the id
/// keccak256(abi.encode(DEPOSIT_ID_TAG, ledgerId, index)) (flavum.core.assets.compute_deposit_id),
/// and the block it was made in; `deposit(index)` reads them.
/// A withdrawal leaf of an accepted batch is paid once: ETH or an ERC-20 for a balance, an
/// ERC-721 (FlavumObjects) for a DATA or RESULT object.
/// Escape hatch: once the rollup is frozen (FlavumRollup.escaped), anyone may pay out a
/// balance leaf or mint a DATA/RESULT object leaf of the escape root to the account the leaf
/// names, proven by a sparse-Merkle inclusion proof (FlavumSmt), each leaf once; a deposit no
/// accepted batch consumed is refunded to its recipient. Deposits are not refused after the
/// freeze (asking the rollup would cost every deposit ~5.6k gas): one made then is refunded
/// like any other no batch took.
contract FlavumBridge {
    uint8 internal constant KIND_DATA = 2; // flavum.core.types.ObjectKind
    uint8 internal constant KIND_RESULT = 3;
    bytes32 internal constant DEPOSIT_ID_TAG = keccak256("flavum.deposit.id");
    bytes32 internal constant DEPOSIT_OBJECT_ID_TAG = keccak256("flavum.object.deposit_id");

    IRollupRoots public immutable rollup;
    FlavumObjects public immutable objects;
    bytes32 public immutable ledgerId;
    bytes32 public immutable nativeAsset;

    mapping(bytes32 => address) public tokenOfAsset; // learnt at the first deposit of a token
    mapping(bytes32 => bool) public finalized; // withdrawal leaf -> paid
    uint256 public depositCount;
    mapping(uint256 => bytes32) private depositHash; // index -> keccak256 of its Deposit body
    mapping(uint256 => uint64) private depositBlock; // index -> the block it was made in
    mapping(bytes32 => bool) public escapeSpent; // state leaf key -> paid out in escape mode
    mapping(uint256 => bool) public depositRefunded; // unconsumed deposit index -> refunded
    bool private locked;

    event Deposited(
        uint256 indexed depositIndex,
        address indexed depositor,
        address indexed recipient,
        bytes32 asset,
        address token,
        uint256 amount,
        bytes32 dataCommitment,
        bytes32 metadataHash,
        bytes payload
    );
    event WithdrawalFinalized(
        bytes32 indexed leaf, uint256 indexed batchNumber, address indexed recipient, bytes32 asset, uint256 amount,
        bytes32 objectId, uint8 objectKind
    );
    /// A leaf of the escape root paid out (a balance: objectId zero) or a deposit refunded
    /// (leafKey: its deposit id).
    event EscapeWithdrawn(
        bytes32 indexed leafKey, address indexed recipient, bytes32 asset, uint256 amount, bytes32 objectId,
        uint8 objectKind
    );

    /// `ledgerId_` is flavum.core.assets.compute_ledger_id(name), e.g. keccak256("flavum.ledger.evm").
    constructor(IRollupRoots rollup_, bytes32 ledgerId_) {
        rollup = rollup_;
        ledgerId = ledgerId_;
        nativeAsset = FlavumHashes.assetId(ledgerId_, address(0));
        tokenOfAsset[nativeAsset] = address(0);
        objects = new FlavumObjects();
    }

    modifier nonReentrant() {
        require(!locked, "reentrant call");
        locked = true;
        _;
        locked = false;
    }

    // --- deposits ---------------------------------------------------------------------------

    /// Deposit `index` of the inbox: the keccak256 of the Deposit body it must become, and the
    /// block it was made in.
    function deposit(uint256 index) external view returns (bytes32 bodyHash, uint64 blockNumber) {
        require(index < depositCount, "no such deposit");
        return (depositHash[index], depositBlock[index]);
    }

    function depositETH(address recipient) external payable {
        require(msg.value > 0, "nothing deposited");
        _emitDeposit(recipient, nativeAsset, address(0), msg.value, bytes32(0), "");
    }

    /// The amount credited is what the bridge received (a fee-on-transfer token gives less).
    function depositERC20(address token, uint256 amount, address recipient) external nonReentrant {
        require(token != address(0) && token.code.length > 0, "not a token");
        bytes32 asset = FlavumHashes.assetId(ledgerId, token);
        tokenOfAsset[asset] = token;
        uint256 before = IERC20Like(token).balanceOf(address(this));
        _callToken(token, abi.encodeWithSignature("transferFrom(address,address,uint256)", msg.sender, address(this), amount));
        uint256 received = IERC20Like(token).balanceOf(address(this)) - before;
        require(received > 0, "nothing deposited");
        _emitDeposit(recipient, asset, token, received, bytes32(0), "");
    }

    /// Deposit a data point (its commitment; the payload, if any, is published in the event) and
    /// optionally ETH with it. The rollup mints a DATA object owned by `recipient`.
    function depositData(address recipient, bytes32 commitment, bytes calldata payload) external payable {
        require(commitment != bytes32(0), "a data deposit needs a commitment");
        bytes32 metadataHash = payload.length > 0 ? keccak256(payload) : bytes32(0);
        _emitDeposit(recipient, nativeAsset, address(0), msg.value, commitment, metadataHash, payload);
    }

    function _emitDeposit(address recipient, bytes32 asset, address token, uint256 amount, bytes32 commitment, bytes memory payload) private {
        _emitDeposit(recipient, asset, token, amount, commitment, bytes32(0), payload);
    }

    function _emitDeposit(
        address recipient, bytes32 asset, address token, uint256 amount, bytes32 commitment, bytes32 metadataHash,
        bytes memory payload
    ) private {
        require(recipient != address(0), "recipient zero");
        uint256 index = depositCount++;
        depositHash[index] = _depositBodyHash(index, recipient, token, amount, commitment, metadataHash);
        depositBlock[index] = uint64(block.number);
        emit Deposited(index, msg.sender, recipient, asset, token, amount, commitment, metadataHash, payload);
    }

    /// keccak256 of the rollup's Deposit body: abi.encode(ledger, eventId, recipient, token,
    /// amount, dataCommitment, metadataHash); the credited asset follows from (ledger, token).
    function _depositBodyHash(
        uint256 index, address recipient, address token, uint256 amount, bytes32 commitment, bytes32 metadataHash
    ) private view returns (bytes32) {
        bytes32 eventId = keccak256(abi.encode(DEPOSIT_ID_TAG, ledgerId, index));
        return keccak256(abi.encode(ledgerId, eventId, recipient, token, amount, commitment, metadataHash));
    }

    // --- withdrawals ------------------------------------------------------------------------

    function finalizeWithdrawal(
        uint256 batchNumber,
        FlavumHashes.Withdrawal calldata w,
        uint256 index,
        bytes32[] calldata proof
    ) external nonReentrant {
        require(w.ledger == ledgerId, "withdrawal is for another ledger");
        bytes32 leaf = FlavumHashes.withdrawalLeaf(w);
        require(!finalized[leaf], "withdrawal already finalized");
        bytes32 root = rollup.withdrawalRoot(batchNumber);
        require(FlavumHashes.verifyTreeProof(root, leaf, index, proof), "bad withdrawal proof");
        // Marked before paying: a reentrant or repeated call finds it finalized.
        finalized[leaf] = true;
        if (w.objectKind == 0) {
            _pay(w.recipient, w.asset, w.amount);
        } else {
            require(w.objectKind == KIND_DATA || w.objectKind == KIND_RESULT, "this object kind is not withdrawable");
            objects.mint(w.recipient, uint256(w.objectId), w.objectKind, w.commitment, w.modelId);
        }
        emit WithdrawalFinalized(leaf, batchNumber, w.recipient, w.asset, w.amount, w.objectId, w.objectKind);
    }

    // --- escape hatch -----------------------------------------------------------------------

    /// Pay `account`'s balance of `asset` (native or a token of this ledger) in the escape
    /// root, `amount` exactly as its leaf holds it. Anyone may submit it: it pays `account`.
    function escapeWithdrawBalance(address account, bytes32 asset, uint256 amount, FlavumSmt.Proof calldata proof)
        external
        nonReentrant
    {
        bytes32 key = FlavumHashes.balanceKey(account, asset);
        _spendLeaf(key, FlavumHashes.amountValueHash(amount), proof);
        _pay(account, asset, amount);
        emit EscapeWithdrawn(key, account, asset, amount, bytes32(0), 0);
    }

    /// Mint the DATA or RESULT object `o` of the escape root (its leaf's preimage, field for
    /// field) to its owner, as the ERC-721 a withdrawal of it mints. Anyone may submit it.
    function escapeWithdrawObject(FlavumHashes.Object calldata o, FlavumSmt.Proof calldata proof)
        external
        nonReentrant
    {
        require(o.kind == KIND_DATA || o.kind == KIND_RESULT, "this object kind is not withdrawable");
        bytes32 key = FlavumHashes.objectKey(o.objectId);
        _spendLeaf(key, keccak256(FlavumHashes.objectPreimage(o)), proof);
        objects.mint(o.owner, uint256(o.objectId), o.kind, o.commitment, o.modelId);
        emit EscapeWithdrawn(key, o.owner, bytes32(0), 0, o.objectId, o.kind);
    }

    /// Refund deposit `index`, which no accepted batch consumed, to its recipient: its amount,
    /// and its data as the DATA object the rollup would have minted. The fields are its
    /// Deposit body's (as `deposit(index)` hashes them). Anyone may submit it.
    function escapeRefundDeposit(
        uint256 index, address recipient, address token, uint256 amount, bytes32 commitment, bytes32 metadataHash
    ) external nonReentrant {
        require(rollup.escaped(), "the rollup is not in escape mode yet");
        require(index < depositCount && index >= rollup.depositsConsumed(), "not an unconsumed deposit");
        require(!depositRefunded[index], "this deposit was already refunded");
        require(
            _depositBodyHash(index, recipient, token, amount, commitment, metadataHash) == depositHash[index],
            "not the deposit's body"
        );
        depositRefunded[index] = true;
        bytes32 eventId = keccak256(abi.encode(DEPOSIT_ID_TAG, ledgerId, index));
        bytes32 asset = FlavumHashes.assetId(ledgerId, token);
        if (amount != 0) {
            _pay(recipient, asset, amount);
        }
        bytes32 objectId;
        if (commitment != bytes32(0)) {
            objectId = keccak256(abi.encode(DEPOSIT_OBJECT_ID_TAG, eventId)); // stf.compute_deposit_object_id
            objects.mint(recipient, uint256(objectId), KIND_DATA, commitment, bytes32(0));
        }
        emit EscapeWithdrawn(eventId, recipient, asset, amount, objectId, commitment != 0 ? KIND_DATA : 0);
    }

    /// Mark leaf `key` paid, after checking it holds `valueHash` (not absent) in the escape
    /// root, which the rollup gives only once it is frozen.
    function _spendLeaf(bytes32 key, bytes32 valueHash, FlavumSmt.Proof calldata proof) private {
        require(!escapeSpent[key], "this leaf was already withdrawn");
        bytes32 root = rollup.escapeRoot(); // reverts before the freeze
        require(valueHash != bytes32(0) && FlavumSmt.verify(root, key, valueHash, proof), "leaf not in the escape root");
        // Marked before paying: a reentrant or repeated call finds it spent.
        escapeSpent[key] = true;
    }

    function _pay(address recipient, bytes32 asset, uint256 amount) private {
        if (asset == nativeAsset) {
            (bool ok,) = recipient.call{value: amount}("");
            require(ok, "ETH transfer failed");
            return;
        }
        address token = tokenOfAsset[asset];
        require(token != address(0), "unknown asset on this ledger");
        _callToken(token, abi.encodeWithSignature("transfer(address,uint256)", recipient, amount));
    }

    /// Call an ERC-20; accept tokens that return nothing as well as those that return true.
    function _callToken(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "token transfer failed");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";
import {FlavumSmt} from "./FlavumSmt.sol";

/// @title FlavumStep: re-executes one rollup transaction on L1, the way flavum.core.stf does.
/// @notice The one-step fraud proof's executor. Given the state root before a transaction,
/// the transaction, and a witness (the state entries it touches, each proven against that
/// root, and proofs for folding its writes in), it applies every rule of the state transition
/// (encoding, domain, signature, nonce, balances, ownership, access, fees, deposits applied
/// once, withdrawals) and returns the state root after it and what it emitted.
/// A transaction the rules refuse reverts with `Invalid`: included in a batch, that is fraud.
/// A witness that does not prove what it claims reverts with `BadWitness`: the challenger's
/// fault, never the sequencer's. ML execution is not re-run: an inference's outputs are its
/// proven trace leaf's (checked by its ZK proof at posting), and so are a training's new params
/// (the chained step proofs, checked at posting, rebuild its leaf).
contract FlavumStep {
    error Invalid(string reason);
    error BadWitness(string reason);

    /// A state entry before the transaction: the leaf's value preimage (empty: absent), proven
    /// against the pre-state root. valueHash = keccak256(preimage).
    struct Entry {
        bytes32 key;
        bytes preimage;
        FlavumSmt.Proof proof;
    }

    /// A proof for folding one written entry into the root, against the root as it is after
    /// the writes listed before it (any order of the changed entries gives the same root).
    struct Write {
        bytes32 key;
        FlavumSmt.Proof proof;
        FlavumSmt.Sibling sibling;
    }

    /// The committed trace leaf's fields: what the ZK proofs bound at posting. An Infer's are
    /// named here; a Train's are (tx hash, training word, rows hash, params out, version id).
    struct TraceClaim {
        bytes32 txHash;
        bytes32 modelId;
        bytes32 inputCommitment;
        bytes32 outputsHash;
        bytes32 resultId;
    }

    struct Slot {
        bytes32 key;
        bytes32 preHash;
        bytes cur;
        bool applied;
    }

    struct Tx {
        uint8 txType;
        uint256 chainId;
        bytes32 rollupId;
        address sender;
        uint64 nonce;
        bytes body;
        bytes signature;
        bytes32 txHash;
    }

    struct Result {
        bytes32 postStateRoot;
        bytes32 withdrawalLeaf;
        bytes32 traceLeaf;
    }

    // flavum.core.state and flavum.core.stf tags
    bytes32 internal constant ACCOUNT_KEY_TAG = keccak256("flavum.state.account");
    bytes32 internal constant GRANT_KEY_TAG = keccak256("flavum.state.grant");
    bytes32 internal constant DEPOSIT_KEY_TAG = keccak256("flavum.state.deposit");
    bytes32 internal constant NONCE_TAG = keccak256("flavum.value.nonce");
    bytes internal constant PRESENT_PREIMAGE = "flavum.value.present";
    bytes32 internal constant OBJECT_ID_TAG = keccak256("flavum.object.id");
    bytes32 internal constant DEPOSIT_OBJECT_ID_TAG = keccak256("flavum.object.deposit_id");
    bytes32 internal constant ASSET_TAG = keccak256("flavum.asset");
    /// flavum.core.genesis.DEV_ASSET: the only asset a genesis may allocate. No bridge pays it
    /// (a bridge pays assetId(its ledger, token) = keccak256(abi.encode(ASSET_TAG, ledger,
    /// token)), and no such preimage hashes to this one).
    bytes32 public constant DEV_ASSET = keccak256("flavum.asset.dev");
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    uint8 internal constant TRANSFER = 1;
    uint8 internal constant TRANSFER_OBJECT = 2;
    uint8 internal constant GRANT_ACCESS = 3;
    uint8 internal constant DEPLOY_MODEL = 4;
    uint8 internal constant SUBMIT_DATA = 5;
    uint8 internal constant INFER = 6;
    uint8 internal constant WITHDRAW = 7;
    uint8 internal constant DEPOSIT = 8;
    uint8 internal constant DEPLOY_TRAINABLE = 9;
    uint8 internal constant TRAIN = 10;
    uint256 internal constant MAX_TRAIN_ROWS = 256; // flavum.core.transactions.MAX_TRAIN_ROWS
    uint8 internal constant KIND_MODEL = 1;
    uint8 internal constant KIND_DATA = 2;
    uint8 internal constant KIND_RESULT = 3;
    uint8 internal constant COMMON = 1;
    uint8 public constant OK = 0;
    uint8 public constant INVALID = 1;
    uint8 public constant BAD_WITNESS = 2;

    uint256 public immutable chainId;
    bytes32 public immutable rollupId;

    /// One genesis allocation (flavum.core.genesis.GenesisBalance): `amount` of DEV_ASSET for
    /// `account`, and its balance key's non-inclusion proof under the root of the ones before.
    struct GenesisBalance {
        address account;
        uint256 amount;
        FlavumSmt.Proof proof;
    }

    constructor(uint256 chainId_, bytes32 rollupId_) {
        chainId = chainId_;
        rollupId = rollupId_;
    }

    /// The genesis state root (flavum.core.genesis.create_genesis): the empty state with each
    /// allocation's dev-asset balance inserted in turn. Reverts on a zero amount, an account
    /// given twice or a proof that does not fit, so a genesis can hold nothing but dev funds.
    /// `encoded` is abi.encode(GenesisBalance[]).
    function genesisRoot(bytes calldata encoded) external pure returns (bytes32 root) {
        GenesisBalance[] memory balances = abi.decode(encoded, (GenesisBalance[]));
        FlavumSmt.Sibling memory none;
        for (uint256 i = 0; i < balances.length; i++) {
            GenesisBalance memory b = balances[i];
            require(b.amount > 0, "a genesis allocation of zero");
            bytes32 value = keccak256(abi.encode(FlavumHashes.AMOUNT_TAG, b.amount));
            root = FlavumSmt.update(root, FlavumHashes.balanceKey(b.account, DEV_ASSET), 0, value, b.proof, none);
        }
    }

    /// Re-execute the transaction `raw` (its canonical wire encoding) on the state with root
    /// `preRoot`. `traceLeaf` is the trace leaf the batch committed for it (zero: none) and
    /// `claim` its fields. Reverts with Invalid if the rules refuse the transaction.
    function execute(
        bytes32 preRoot,
        bytes calldata raw,
        Entry[] calldata entries,
        Write[] calldata writes,
        bytes32 traceLeaf,
        TraceClaim calldata claim
    ) external view returns (Result memory r) {
        Slot[] memory slots = _load(preRoot, entries);
        Tx memory t = _decodeEnvelope(raw);
        if (t.txType == INFER) {
            r.traceLeaf = _infer(slots, t, traceLeaf, claim);
        } else if (t.txType == TRAIN) {
            r.traceLeaf = _train(slots, t, traceLeaf, claim);
        } else if (t.txType == WITHDRAW) {
            r.withdrawalLeaf = _withdraw(slots, t);
        } else if (t.txType == DEPOSIT) {
            _deposit(slots, t);
        } else {
            _simple(slots, t);
        }
        r.postStateRoot = _fold(preRoot, slots, writes);
    }

    /// `execute`'s verdict without reverting: INVALID with the rule's reason, BAD_WITNESS with
    /// the witness's fault (any other revert, out of gas included, counts as the witness's),
    /// or OK with the results.
    function judge(
        bytes32 preRoot,
        bytes calldata raw,
        Entry[] calldata entries,
        Write[] calldata writes,
        bytes32 traceLeaf,
        TraceClaim calldata claim
    ) external view returns (uint8 verdict, string memory reason, Result memory r) {
        try this.execute(preRoot, raw, entries, writes, traceLeaf, claim) returns (Result memory result) {
            return (OK, "", result);
        } catch (bytes memory err) {
            if (err.length >= 4 && bytes4(err) == Invalid.selector) {
                return (INVALID, _reason(err), r);
            }
            if (err.length >= 4 && bytes4(err) == BadWitness.selector) {
                return (BAD_WITNESS, _reason(err), r);
            }
            return (BAD_WITNESS, "the executor reverted", r);
        }
    }

    /// Whether `raw` may be queued for forced inclusion: a canonical transaction of this
    /// rollup's domain signed by its sender, of a type the queue takes (not a Deposit, which
    /// only the bridge makes, nor an Infer, whose result only the sequencer's prover can give).
    /// Returns its hash, or why it may not be queued.
    function checkForcible(bytes calldata raw) external view returns (bool ok, string memory reason, bytes32 txHash) {
        try this.decodeSigned(raw) returns (bytes32 h, uint8 txType) {
            if (txType == DEPOSIT) return (false, "a deposit comes from the bridge, not the forced queue", h);
            if (txType == INFER) return (false, "an inference needs the sequencer's prover: it cannot be forced", h);
            if (txType == TRAIN) return (false, "a training needs the sequencer's prover: it cannot be forced", h);
            return (true, "", h);
        } catch (bytes memory err) {
            // Invalid(reason) from the envelope rules, Error(reason) from a non-canonical encoding.
            if (err.length >= 4 && (bytes4(err) == Invalid.selector || bytes4(err) == 0x08c379a0)) {
                return (false, _reason(err), 0);
            }
            return (false, "not a rollup transaction", 0);
        }
    }

    /// The hash and type of `raw` once its envelope, domain and signature check out; reverts
    /// Invalid otherwise (as execute would, before reading any state).
    function decodeSigned(bytes calldata raw) external view returns (bytes32 txHash, uint8 txType) {
        Tx memory t = _decodeEnvelope(raw);
        return (t.txHash, t.txType);
    }

    function _reason(bytes memory err) private pure returns (string memory) {
        bytes memory args = new bytes(err.length - 4);
        for (uint256 i = 0; i < args.length; i++) {
            args[i] = err[i + 4];
        }
        return abi.decode(args, (string));
    }

    // --- the witness --------------------------------------------------------------------------

    function _load(bytes32 root, Entry[] calldata entries) private pure returns (Slot[] memory slots) {
        slots = new Slot[](entries.length);
        for (uint256 i = 0; i < entries.length; i++) {
            bytes32 valueHash = entries[i].preimage.length == 0 ? bytes32(0) : keccak256(entries[i].preimage);
            if (!FlavumSmt.verify(root, entries[i].key, valueHash, entries[i].proof)) {
                revert BadWitness("a state entry is not proven against the pre-state root");
            }
            slots[i] = Slot(entries[i].key, valueHash, entries[i].preimage, false);
        }
    }

    function _slot(Slot[] memory slots, bytes32 key) private pure returns (Slot memory) {
        for (uint256 i = 0; i < slots.length; i++) {
            if (slots[i].key == key) {
                return slots[i];
            }
        }
        revert BadWitness("the witness lacks a state entry the transaction touches");
    }

    /// Fold every changed entry into the root, with the prover's proofs, in the prover's order.
    function _fold(bytes32 root, Slot[] memory slots, Write[] calldata writes) private pure returns (bytes32) {
        for (uint256 i = 0; i < writes.length; i++) {
            Slot memory s = _slot(slots, writes[i].key);
            if (s.applied) revert BadWitness("an entry is written twice");
            s.applied = true;
            root = FlavumSmt.update(root, s.key, s.preHash, _hashOf(s.cur), writes[i].proof, writes[i].sibling);
        }
        for (uint256 i = 0; i < slots.length; i++) {
            if (!slots[i].applied && _hashOf(slots[i].cur) != slots[i].preHash) {
                revert BadWitness("a changed entry has no write proof");
            }
        }
        return root;
    }

    function _hashOf(bytes memory preimage) private pure returns (bytes32) {
        return preimage.length == 0 ? bytes32(0) : keccak256(preimage);
    }

    // --- decoding (flavum.core.transactions) ---------------------------------------------------

    function _decodeEnvelope(bytes calldata raw) private view returns (Tx memory t) {
        (t.txHash, t.txType) = FlavumHashes.txHashOf(raw); // reverts unless canonical: never posted
        (, t.chainId, t.rollupId, t.sender, t.nonce, t.body, t.signature) =
            abi.decode(raw, (uint8, uint256, bytes32, address, uint64, bytes, bytes));
        if (t.txType < TRANSFER || t.txType > TRAIN) revert Invalid("unknown transaction type");
        if (t.body.length != 32 * _bodyWords(t.txType, t.body)) revert Invalid("cannot decode the body");
        _checkBody(t.txType, t.body); // before any state is read, as decode_transaction does
        if (t.txType == DEPOSIT && (t.sender != address(0) || t.signature.length != 0 || t.nonce != 0)) {
            revert Invalid("a deposit has no sender, nonce or signature");
        }
        if (t.chainId != chainId || t.rollupId != rollupId) revert Invalid("wrong domain");
        if (t.txType == DEPOSIT) return t;
        if (_recover(t) != t.sender) revert Invalid("bad signature");
    }

    function _bodyWords(uint8 txType, bytes memory body) private pure returns (uint256) {
        if (txType == TRANSFER || txType == GRANT_ACCESS || txType == INFER || txType == SUBMIT_DATA) return 3;
        if (txType == TRANSFER_OBJECT) return 2;
        if (txType == WITHDRAW) return 5;
        if (txType == DEPLOY_MODEL) return 6;
        if (txType == TRAIN) return _trainWords(body);
        return 7; // DEPOSIT, DEPLOY_TRAINABLE
    }

    /// A Train body is abi.encode(bytes32, uint64, uint256, bytes32[]): four head words (the
    /// array's offset 0x80), its length, its items. 0 when the head does not say so.
    function _trainWords(bytes memory body) private pure returns (uint256) {
        if (body.length < 5 * 32 || uint256(_word(body, 3)) != 0x80) return 0;
        uint256 n = uint256(_word(body, 4));
        if (n > body.length / 32) return 0; // cannot fit: no overflow below
        return 5 + n;
    }

    /// The range of every word that is not a full uint256 or bytes32 (transactions.decode_body).
    function _checkBody(uint8 txType, bytes memory b) private pure {
        if (txType == TRANSFER) {
            _address(b, 0);
        } else if (txType == TRANSFER_OBJECT || txType == WITHDRAW) {
            _address(b, 1);
        } else if (txType == GRANT_ACCESS) {
            _address(b, 1);
            if (uint256(_word(b, 2)) > 1) revert Invalid("cannot decode the body: bool out of range");
        } else if (txType == DEPLOY_MODEL) {
            _access(b, 3);
        } else if (txType == SUBMIT_DATA) {
            _access(b, 2);
        } else if (txType == DEPLOY_TRAINABLE) {
            _access(b, 4);
        } else if (txType == TRAIN) {
            _checkTrain(b);
        } else if (txType == DEPOSIT) {
            _address(b, 2);
            _address(b, 3);
        }
    }

    /// transactions.validate_train: at least one step, 1..MAX_TRAIN_ROWS rows, equal batches.
    function _checkTrain(bytes memory b) private pure {
        uint256 steps = uint256(_word(b, 1));
        if (steps >> 64 != 0) revert Invalid("cannot decode the body: uint64 out of range");
        uint256 n = uint256(_word(b, 4));
        if (steps == 0) revert Invalid("a training runs at least one step");
        if (n == 0 || n > MAX_TRAIN_ROWS) revert Invalid("a training names 1 to 256 rows");
        if (n % steps != 0) revert Invalid("the rows do not split into equal batches");
    }

    function _word(bytes memory body, uint256 i) private pure returns (bytes32 w) {
        assembly {
            w := mload(add(body, add(32, mul(i, 32))))
        }
    }

    function _address(bytes memory body, uint256 i) private pure returns (address) {
        uint256 w = uint256(_word(body, i));
        if (w >> 160 != 0) revert Invalid("cannot decode the body: address out of range");
        return address(uint160(w));
    }

    function _access(bytes memory body, uint256 i) private pure returns (uint8) {
        uint256 w = uint256(_word(body, i));
        if (w > COMMON) revert Invalid("unknown access mode");
        return uint8(w);
    }

    function _recover(Tx memory t) private pure returns (address) {
        bytes memory sig = t.signature;
        if (sig.length != 65) revert Invalid("signature must be 65 bytes");
        bytes32 r = _word(sig, 0);
        bytes32 s = _word(sig, 1);
        uint8 v = uint8(sig[64]);
        // Low-s only, v in {0, 1}: one valid signature per transaction (transactions.recover_signer).
        if (uint256(s) > HALF_N) revert Invalid("signature s value is not canonical (high s)");
        if (v > 1) revert Invalid("signature v must be 0 or 1");
        bytes32 signingHash = keccak256(
            abi.encode(FlavumHashes.TX_SIGN_TAG, t.chainId, t.rollupId, t.txType, t.sender, t.nonce, keccak256(t.body))
        );
        address signer = ecrecover(signingHash, v + 27, r, s);
        if (signer == address(0)) revert Invalid("signature does not recover a key");
        return signer;
    }

    // --- the state (flavum.core.state) -------------------------------------------------------

    function _accountKey(address a) private pure returns (bytes32) {
        return keccak256(abi.encode(ACCOUNT_KEY_TAG, a));
    }

    function _number(Slot[] memory slots, bytes32 key, bytes32 tag) private pure returns (uint256) {
        bytes memory cur = _slot(slots, key).cur;
        if (cur.length == 0) return 0;
        (bytes32 got, uint256 value) = abi.decode(cur, (bytes32, uint256));
        if (got != tag || cur.length != 64) revert BadWitness("a number entry has a wrong preimage");
        return value;
    }

    function _setNumber(Slot[] memory slots, bytes32 key, bytes32 tag, uint256 value) private pure {
        _slot(slots, key).cur = value == 0 ? bytes("") : abi.encode(tag, value);
    }

    function _setNonce(Slot[] memory slots, address a, uint256 nonce) private pure {
        _setNumber(slots, _accountKey(a), NONCE_TAG, nonce);
    }

    function _increase(Slot[] memory slots, address a, bytes32 asset, uint256 amount) private pure {
        bytes32 key = FlavumHashes.balanceKey(a, asset);
        uint256 balance = _number(slots, key, FlavumHashes.AMOUNT_TAG);
        if (amount > type(uint256).max - balance) revert Invalid("balance would overflow uint256");
        _setNumber(slots, key, FlavumHashes.AMOUNT_TAG, balance + amount);
    }

    function _decrease(Slot[] memory slots, address a, bytes32 asset, uint256 amount) private pure {
        bytes32 key = FlavumHashes.balanceKey(a, asset);
        uint256 balance = _number(slots, key, FlavumHashes.AMOUNT_TAG);
        if (balance < amount) revert Invalid("insufficient balance");
        _setNumber(slots, key, FlavumHashes.AMOUNT_TAG, balance - amount);
    }

    function _object(Slot[] memory slots, bytes32 id) private pure returns (bool exists, FlavumHashes.Object memory o) {
        bytes memory cur = _slot(slots, FlavumHashes.objectKey(id)).cur;
        if (cur.length == 0) return (false, o);
        if (cur.length != 12 * 32) revert BadWitness("an object entry has a wrong preimage");
        bytes32 tag;
        (tag, o) = abi.decode(cur, (bytes32, FlavumHashes.Object));
        if (tag != FlavumHashes.OBJECT_TAG) revert BadWitness("an object entry has a wrong preimage");
        return (true, o);
    }

    function _setObject(Slot[] memory slots, FlavumHashes.Object memory o) private pure {
        _slot(slots, FlavumHashes.objectKey(o.objectId)).cur = FlavumHashes.objectPreimage(o);
    }

    function _present(Slot[] memory slots, bytes32 key) private pure returns (bool) {
        bytes memory cur = _slot(slots, key).cur;
        if (cur.length != 0 && keccak256(cur) != keccak256(PRESENT_PREIMAGE)) {
            revert BadWitness("a presence entry has a wrong preimage");
        }
        return cur.length != 0;
    }

    function _setPresent(Slot[] memory slots, bytes32 key, bool present) private pure {
        _slot(slots, key).cur = present ? PRESENT_PREIMAGE : bytes("");
    }

    function _grantKey(bytes32 id, address owner, address grantee) private pure returns (bytes32) {
        return keccak256(abi.encode(GRANT_KEY_TAG, id, owner, grantee));
    }

    // --- the transition (flavum.core.stf) -----------------------------------------------------

    /// Checks and bumps the nonce of a signed transaction (stf.check_nonce, process_body).
    function _useNonce(Slot[] memory slots, Tx memory t) private pure {
        bytes32 key = _accountKey(t.sender);
        if (t.nonce != _number(slots, key, NONCE_TAG)) revert Invalid("nonce mismatch");
        _setNumber(slots, key, NONCE_TAG, uint256(t.nonce) + 1);
    }

    function _simple(Slot[] memory slots, Tx memory t) private pure {
        _useNonce(slots, t);
        bytes memory b = t.body;
        if (t.txType == TRANSFER) {
            address to = _address(b, 0);
            _decrease(slots, t.sender, _word(b, 1), uint256(_word(b, 2)));
            _increase(slots, to, _word(b, 1), uint256(_word(b, 2)));
        } else if (t.txType == TRANSFER_OBJECT) {
            address to = _address(b, 1);
            FlavumHashes.Object memory o = _owned(slots, _word(b, 0), t.sender);
            o.owner = to;
            _setObject(slots, o);
        } else if (t.txType == GRANT_ACCESS) {
            address grantee = _address(b, 1);
            bool allowed = _word(b, 2) != bytes32(0);
            FlavumHashes.Object memory o = _owned(slots, _word(b, 0), t.sender);
            _setPresent(slots, _grantKey(o.objectId, t.sender, grantee), allowed);
        } else if (t.txType == DEPLOY_MODEL) {
            uint8 access = _access(b, 3);
            _setObject(slots, FlavumHashes.Object(
                _objectId(t.sender, t.nonce), KIND_MODEL, t.sender, access, _word(b, 0), _word(b, 2), _word(b, 1),
                _word(b, 4), uint256(_word(b, 5)), bytes32(0), bytes32(0)
            ));
        } else if (t.txType == DEPLOY_TRAINABLE) {
            _deployTrainable(slots, t);
        } else {
            // SUBMIT_DATA
            uint8 access = _access(b, 2);
            _setObject(slots, FlavumHashes.Object(
                _objectId(t.sender, t.nonce), KIND_DATA, t.sender, access, _word(b, 0), _word(b, 1), bytes32(0),
                bytes32(0), 0, bytes32(0), bytes32(0)
            ));
        }
    }

    function _infer(Slot[] memory slots, Tx memory t, bytes32 traceLeaf, TraceClaim calldata claim)
        private
        pure
        returns (bytes32)
    {
        _useNonce(slots, t);
        bytes memory b = t.body;
        FlavumHashes.Object memory model = _usable(slots, _word(b, 0), KIND_MODEL, t.sender);
        FlavumHashes.Object memory data = _usable(slots, _word(b, 1), KIND_DATA, t.sender);
        // A trainable version runs on its inference circuit (vkHash), which must still be there.
        if (model.modelId != bytes32(0)) _circuit(slots, model.vkHash);
        if (model.fee > uint256(_word(b, 2))) revert Invalid("the model's fee exceeds the transaction's max fee");
        // No committed trace leaf: no proven execution for this inference.
        if (traceLeaf == bytes32(0)) revert Invalid("an inference needs its execution output");
        bytes32 claimed = FlavumHashes.traceLeaf(
            claim.txHash, claim.modelId, claim.inputCommitment, claim.outputsHash, claim.resultId
        );
        if (claimed != traceLeaf) revert BadWitness("the trace claim is not the committed trace leaf");
        // The proof binds its outputs to an input commitment: it must be the DATA object's.
        if (claim.inputCommitment != data.commitment) {
            revert Invalid("the execution's input commitment is not the data object's");
        }
        bytes32 resultId = _objectId(t.sender, t.nonce);
        // A trainable version's inference is proven by its inference circuit (vkHash), its
        // weights (the version's commitment) an input: the leaf's model word binds both.
        bytes32 modelWord = model.modelId == bytes32(0)
            ? model.objectId : FlavumHashes.versionWord(model.vkHash, model.commitment);
        if (claim.txHash != t.txHash || claim.modelId != modelWord || claim.resultId != resultId) {
            revert Invalid("the committed trace entry is not this inference's");
        }
        if (model.fee != 0) {
            _decrease(slots, t.sender, model.feeAsset, model.fee);
            _increase(slots, model.owner, model.feeAsset, model.fee);
        }
        _setObject(slots, FlavumHashes.Object(
            resultId, KIND_RESULT, t.sender, 0, claim.outputsHash, bytes32(0), bytes32(0), bytes32(0), 0,
            model.objectId, data.objectId
        ));
        return traceLeaf;
    }

    /// stf.process_deploy_trainable: the first version, naming its two circuits.
    function _deployTrainable(Slot[] memory slots, Tx memory t) private pure {
        bytes memory b = t.body;
        FlavumHashes.Object memory step = _circuit(slots, _word(b, 0));
        FlavumHashes.Object memory inference = _circuit(slots, _word(b, 1));
        _setObject(slots, FlavumHashes.Object(
            _objectId(t.sender, t.nonce), KIND_MODEL, t.sender, _access(b, 4), _word(b, 2), _word(b, 3),
            inference.objectId, _word(b, 5), uint256(_word(b, 6)), step.objectId, bytes32(0)
        ));
    }

    /// stf.get_circuit_model: a plain MODEL (not a trainable version).
    function _circuit(Slot[] memory slots, bytes32 id) private pure returns (FlavumHashes.Object memory o) {
        bool exists;
        (exists, o) = _object(slots, id);
        if (!exists) revert Invalid("unknown object");
        if (o.kind != KIND_MODEL || o.modelId != bytes32(0)) revert Invalid("not a plain MODEL (a circuit)");
    }

    /// stf.process_train: rights and fee, the rows' commitments, and the new version, whose
    /// params commitment is the committed trace leaf's (the chained step proofs').
    function _train(Slot[] memory slots, Tx memory t, bytes32 traceLeaf, TraceClaim calldata claim)
        private
        pure
        returns (bytes32)
    {
        _useNonce(slots, t);
        bytes memory b = t.body;
        FlavumHashes.Object memory parent = _usable(slots, _word(b, 0), KIND_MODEL, t.sender);
        if (parent.modelId == bytes32(0)) revert Invalid("the model is not trainable");
        if (parent.fee > uint256(_word(b, 2))) revert Invalid("the model's fee exceeds the transaction's max fee");
        bytes32 rowsHash = _rowsHash(slots, b, t.sender);
        if (traceLeaf == bytes32(0)) revert Invalid("a training needs its execution output");
        bytes32 claimed = FlavumHashes.traceLeaf(
            claim.txHash, claim.modelId, claim.inputCommitment, claim.outputsHash, claim.resultId
        );
        if (claimed != traceLeaf) revert BadWitness("the trace claim is not the committed trace leaf");
        uint64 steps = uint64(uint256(_word(b, 1)));
        bytes32 versionId = _objectId(t.sender, t.nonce);
        if (
            claim.txHash != t.txHash || claim.modelId != FlavumHashes.trainingWord(parent.modelId, parent.commitment, steps)
                || claim.inputCommitment != rowsHash || claim.resultId != versionId
        ) {
            revert Invalid("the committed trace entry is not this training's");
        }
        if (parent.fee != 0) {
            _decrease(slots, t.sender, parent.feeAsset, parent.fee);
            _increase(slots, parent.owner, parent.feeAsset, parent.fee);
        }
        bytes32 lineage = keccak256(abi.encode(FlavumHashes.LINEAGE_TAG, parent.objectId, rowsHash, steps, traceLeaf));
        _setObject(slots, FlavumHashes.Object(
            versionId, KIND_MODEL, t.sender, 0, claim.outputsHash, lineage, parent.vkHash, parent.feeAsset,
            parent.fee, parent.modelId, parent.objectId
        ));
        return traceLeaf;
    }

    /// The training rows' commitments folded in order (each DATA usable by the trainer).
    function _rowsHash(Slot[] memory slots, bytes memory b, address trainer) private pure returns (bytes32 h) {
        uint256 n = uint256(_word(b, 4));
        for (uint256 i = 0; i < n; i++) {
            h = FlavumHashes.rowsHashNext(h, _usable(slots, _word(b, 5 + i), KIND_DATA, trainer).commitment);
        }
    }

    function _withdraw(Slot[] memory slots, Tx memory t) private pure returns (bytes32) {
        bytes memory b = t.body;
        address recipient = _address(b, 1);
        bytes32 asset = _word(b, 2);
        uint256 amount = uint256(_word(b, 3));
        bytes32 objectId = _word(b, 4);
        if ((objectId == bytes32(0)) == (amount == 0)) {
            revert Invalid("a withdrawal moves either an amount or an object, not both");
        }
        _useNonce(slots, t);
        FlavumHashes.Withdrawal memory w;
        w.withdrawalId = t.txHash;
        w.ledger = _word(b, 0);
        w.recipient = recipient;
        w.asset = asset;
        if (objectId == bytes32(0)) {
            _decrease(slots, t.sender, asset, amount);
            w.amount = amount;
        } else {
            FlavumHashes.Object memory o = _owned(slots, objectId, t.sender);
            _slot(slots, FlavumHashes.objectKey(objectId)).cur = ""; // burnt here, minted on the ledger
            w.objectId = objectId;
            w.objectKind = o.kind;
            w.commitment = o.commitment;
            w.modelId = o.modelId;
        }
        return keccak256(abi.encode(
            FlavumHashes.WITHDRAWAL_TAG, w.withdrawalId, w.ledger, w.recipient, w.asset, w.amount, w.objectId,
            w.objectKind, w.commitment, w.modelId
        ));
    }

    function _deposit(Slot[] memory slots, Tx memory t) private pure {
        bytes memory b = t.body;
        bytes32 ledger = _word(b, 0);
        bytes32 eventId = _word(b, 1);
        address recipient = _address(b, 2);
        address token = _address(b, 3);
        uint256 amount = uint256(_word(b, 4));
        bytes32 commitment = _word(b, 5);
        bytes32 depositKey = keccak256(abi.encode(DEPOSIT_KEY_TAG, eventId));
        if (_present(slots, depositKey)) revert Invalid("this ledger event was already applied");
        if (amount == 0 && commitment == bytes32(0)) revert Invalid("a deposit carries an amount, data, or both");
        _setPresent(slots, depositKey, true);
        if (amount != 0) {
            _increase(slots, recipient, keccak256(abi.encode(ASSET_TAG, ledger, token)), amount);
        }
        if (commitment != bytes32(0)) {
            bytes32 id = keccak256(abi.encode(DEPOSIT_OBJECT_ID_TAG, eventId));
            _setObject(slots, FlavumHashes.Object(
                id, KIND_DATA, recipient, 0, commitment, _word(b, 6), bytes32(0), bytes32(0), 0, bytes32(0), bytes32(0)
            ));
        }
    }

    function _objectId(address creator, uint64 nonce) private pure returns (bytes32) {
        return keccak256(abi.encode(OBJECT_ID_TAG, creator, uint256(nonce)));
    }

    function _owned(Slot[] memory slots, bytes32 id, address sender) private pure returns (FlavumHashes.Object memory o) {
        bool exists;
        (exists, o) = _object(slots, id);
        if (!exists) revert Invalid("unknown object");
        if (o.owner != sender) revert Invalid("not the owner");
    }

    function _usable(Slot[] memory slots, bytes32 id, uint8 kind, address user) private pure returns (FlavumHashes.Object memory o) {
        bool exists;
        (exists, o) = _object(slots, id);
        if (!exists) revert Invalid("unknown object");
        if (o.kind != kind) revert Invalid("wrong object kind");
        if (o.access == COMMON || o.owner == user) return o;
        if (!_present(slots, _grantKey(id, o.owner, user))) revert Invalid("no access");
    }
}

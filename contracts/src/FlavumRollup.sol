// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";
import {FlavumLeaves, INPUTS_ONE, INPUTS_ROW_POINTS, INPUTS_TRAINING_STEP} from "./FlavumLeaves.sol";
import {FlavumStep} from "./FlavumStep.sol";
import {ModelRegistry} from "./ModelRegistry.sol";

interface IDepositInbox {
    function ledgerId() external view returns (bytes32);
    function depositCount() external view returns (uint256);
    function deposit(uint256 index) external view returns (bytes32 bodyHash, uint64 blockNumber);
}

/// @title FlavumRollup: accepts batch headers in order, each only with valid inference proofs.
/// @notice A batch comes with every transaction in its wire encoding and what it did (the state
/// root after it, the withdrawal and trace leaves it emitted): the contract hashes each
/// transaction itself and checks that the header's tx, state, withdrawal and trace roots follow
/// from those commitments (flavum.core.batch), so the transactions are on L1 and any one of
/// them can later be re-executed alone. For every proof in a batch the model's verifier is
/// called; the trace leaves are then rebuilt from the public values the verifier just accepted
/// (input commitments, outputs) and the (tx hash, result id) rows the poster names, and must
/// hash to the header's trace root.
/// Users may queue signed rollup transactions here (forced inclusion): a batch must process
/// every queued request that is older than `forcedWindow` blocks. Deposits come from the
/// Bridge's inbox: a batch consumes this ledger's deposits in index order, each Deposit
/// transaction exactly the body the Bridge stored, and none older than `forcedWindow` blocks
/// may be left behind.
/// Settlement is optimistic for everything but ML: a batch is final `challengeWindow` blocks
/// after it is accepted, and only then pay its withdrawals. Until then anyone may challenge
/// one of its transactions: FlavumStep re-executes it from the previous transaction's
/// committed state root; if the rules refuse it, or its committed post-state root or
/// emissions differ, the batch and every later one are reverted and the sequencer's bond
/// goes to the challenger.
/// Escape hatch: once no standing batch has been accepted for `escapeDelay` blocks (longer
/// than the challenge window), the rollup is frozen: it accepts no more batches, every batch
/// it holds is final, and the Bridge pays each balance and DATA/RESULT object of the last
/// state root (`escapeRoot`) to its owner, by inclusion proof, with no sequencer involved.
/// Roles: the sequencer posts batches; the admin (fixed at deployment) can only rotate the
/// sequencer, and a rotation takes effect `rotationDelay` blocks after it is proposed, longer
/// than the forced and challenge windows together: a withdrawal asked for (or forced) when the
/// rotation is proposed is final, and payable, before the new sequencer can post.
contract FlavumRollup {
    /// One verifier call, covering the rows (txHashes[r], resultIds[r]). Their count and how the
    /// public values are read are the model's, as the ModelRegistry pinned them (the layouts'
    /// INPUTS_* are FlavumLeaves.sol's; FlavumLeaves reads all but the training step's):
    /// INPUTS_ONE: public values [input commitment, outputs...]; the outputs are split
    /// into `rows` equal slices, one trace leaf each, all with the one input commitment.
    /// INPUTS_PER_ROW (a batched model with one input commitment per row): public values
    /// [c_0, ..., c_{N-1}, outputs of row 0, ..., outputs of row N-1] with N = rows;
    /// row r's leaf has commitment c_r and the r-th equal slice of the outputs.
    /// INPUTS_ROW_POINTS (the same with ezkl's polycommit inputs): public values are the
    /// outputs only; c_r is keccak256 of the r-th KZG point of the proof, its bytes
    /// [64 r, 64 r + 64) (x, y), the commitment to row r's input column that the verifier uses.
    /// INPUTS_PUBLIC_ROWS (common data, rows as public values; the layout word holds the row
    /// width W above its mode byte): public values [row 0, ..., row N-1, outputs...], W each;
    /// c_r is FlavumHashes.publicRowCommitment of row r's W values.
    /// A padding row (tx hash and result id both zero: the proof's rows beyond the real ones)
    /// has no leaf.
    /// INPUTS_TRAINING_STEP (a training-step circuit, one row: (Train tx hash, version id)):
    /// public values [H(params), H(row_0), ..., H(row_{B-1}), H(new params)]. The consecutive
    /// proofs of one training (same step model, same tx hash) must chain (each starts at the
    /// params the one before ended at) and make one leaf: (tx hash, trainingWord(step model,
    /// first params, step count), the rows' hash in proof order, last new params, the last
    /// proof's version id).
    struct Inference {
        bytes32 modelId;
        bytes proof;
        uint256[] instances;
        bytes32[] vka; // empty for a model with its own verifier
        bytes32[] txHashes;
        bytes32[] resultIds;
    }

    /// How a batch processes forced request `requestId`: included (it is the batch's
    /// transaction `txIndex`) or refused (the rollup found the transaction invalid).
    /// How a batch settles a forced request: included as transaction txIndex, or refused at
    /// position txIndex (judged on the state before transaction txIndex of the batch; the
    /// batch's length: after its last), where a refusal is legal only if the transaction is
    /// invalid: `challengeRefusal` reverts the batch otherwise.
    struct ForcedInclusion {
        uint256 requestId;
        bool included;
        uint256 txIndex;
    }

    /// A refusal to disprove: refusal `which` of the batch's refusals (their request ids and
    /// positions, all of them, as posted), the refused transaction's wire encoding, the
    /// committed leaf before its position (unused at position 0) and the step witness on the
    /// state there.
    struct RefusalChallenge {
        uint64 number;
        FlavumHashes.Header header;
        uint256[] requestIds;
        uint256[] positions;
        uint256 which;
        bytes raw;
        bytes32 prevTxHash;
        bytes32 prevPostStateRoot;
        bytes32 prevWithdrawalLeaf;
        bytes32 prevTraceLeaf;
        bytes32[] prevProof;
        FlavumStep.Entry[] entries;
        FlavumStep.Write[] writes;
    }

    /// A posted transaction as a challenge names it: its wire encoding and what it did
    /// (flavum.core.batch.TxCommitment, with the transaction itself instead of its hash).
    /// Zero leaves: it emitted none.
    struct BatchTx {
        bytes raw;
        bytes32 postStateRoot;
        bytes32 withdrawalLeaf;
        bytes32 traceLeaf;
    }

    struct ForcedRequest {
        bytes32 txHash;
        address requester;
        uint64 queuedAtBlock;
    }

    /// What an accepted batch keeps in storage: three slots (a new slot costs 22k gas). The
    /// header's other fields are not kept: a challenge names the header, checked against
    /// batchHash (its previous state root is where a revert goes back to).
    struct Batch {
        bytes32 batchHash;
        bytes32 withdrawalRoot;
        uint64 acceptedAtBlock;
        uint64 forcedHeadBefore;
        uint64 depositsBefore;
    }

    /// A one-step fraud proof: transaction `index` of batch `number` (its header given in
    /// full), proven in the batch's tx root, with the previous transaction's leaf (none for
    /// index 0: the batch's previous state root is the pre-state) and the step witness.
    struct Challenge {
        uint64 number;
        FlavumHashes.Header header;
        uint256 index;
        BatchTx tx;
        bytes32[] txProof;
        bytes32 prevTxHash;
        bytes32 prevPostStateRoot;
        bytes32 prevWithdrawalLeaf;
        bytes32 prevTraceLeaf;
        bytes32[] prevProof;
        FlavumStep.Entry[] entries;
        FlavumStep.Write[] writes;
        FlavumStep.TraceClaim claim;
    }

    ModelRegistry public immutable registry;
    uint256 public immutable forcedWindow; // blocks
    IDepositInbox public immutable inbox;
    FlavumStep public immutable step;
    FlavumLeaves public immutable leafReader; // created by the constructor: reads proofs' leaves
    uint256 public immutable challengeWindow; // blocks
    uint256 public immutable minBond; // wei the sequencer must keep bonded to post
    uint256 public immutable escapeDelay; // blocks without an accepted batch before the freeze
    uint64 internal immutable deployedAtBlock;
    address public immutable admin; // proposes sequencer rotations, and nothing else
    uint256 public immutable rotationDelay; // blocks from a proposal to its activation
    bytes32 internal immutable rollupId; // FlavumHashes.rollupIdOf(this chain, this address)
    address public sequencer; // the only poster of batches
    address public pendingSequencer; // proposed by the admin (zero: none)
    uint256 public pendingSequencerAtBlock; // from this block it can be activated
    uint256 public bond;
    uint256 public depositsConsumed; // this ledger's inbox deposits taken by accepted batches
    uint8 internal constant DEPOSIT_TX_TYPE = 8;
    uint8 internal constant EMITS_WITHDRAWAL = 1; // a record's `flags` bits (submitBatch)
    uint8 internal constant EMITS_TRACE = 2;
    uint8 internal constant OWN_DOMAIN = 4;
    bytes32 internal constant TX_LEAF_TAG = keccak256("flavum.batch.tx");

    uint64 public nextBatchNumber;
    // The block of the last standing accepted batch (deployment before batch 0). It shares
    // nextBatchNumber's slot: posting writes both in one store.
    uint64 public lastBatchBlock;
    bytes32 public immutable genesisStateRoot; // computed here from the genesis allocations
    bytes32 public lastStateRoot;
    mapping(uint256 => Batch) public batches;
    /// By batch hash, the batch's refusals of forced requests, chained: r = keccak256(abi.encode(
    /// r, requestId, position)) from r = 0 (written only for a batch that refuses any).
    mapping(bytes32 => bytes32) public refusalsOf;
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
    event BatchesReverted(uint64 indexed fromNumber, uint256 txIndex, address challenger, string reason, uint256 prize);
    event SequencerProposed(address indexed sequencer, uint256 activeAtBlock);
    event SequencerProposalCancelled(address indexed sequencer);
    event SequencerActivated(address indexed previous, address indexed sequencer);

    /// The value sent is the sequencer's bond (`minBond`). `inbox_` is the Bridge, deployed
    /// right after this contract (its address is known in advance). The state batch 0 starts
    /// from is computed here, by `step_`, from `genesis` (abi.encode(FlavumStep.GenesisBalance[])):
    /// dev-asset balances only, so no deployer can give anyone a withdrawable balance the
    /// Bridge does not hold. `escapeDelay_` must exceed the challenge window, so that every
    /// batch the rollup holds when it freezes is final. `step_` must judge transactions for this
    /// contract's own domain (this chain, FlavumHashes.rollupIdOf(this chain, this address)): a
    /// transaction signed for any other deployment is refused by its one-step executor.
    /// `admin_` may rotate the sequencer (zero: nobody can); `rotationDelay_` must exceed the
    /// forced and challenge windows together (see proposeSequencer).
    constructor(
        address sequencer_,
        address admin_,
        uint256 rotationDelay_,
        ModelRegistry registry_,
        bytes memory genesis,
        uint256 forcedWindow_,
        IDepositInbox inbox_,
        FlavumStep step_,
        uint256 challengeWindow_,
        uint256 escapeDelay_
    ) payable {
        require(escapeDelay_ > challengeWindow_, "the escape delay must exceed the challenge window");
        require(
            rotationDelay_ > challengeWindow_ + forcedWindow_,
            "the rotation delay must exceed the forced and challenge windows"
        );
        require(step_.chainId() == block.chainid, "the one-step executor is for another chain");
        bytes32 id = FlavumHashes.rollupIdOf(block.chainid, address(this));
        require(step_.rollupId() == id, "the one-step executor is for another rollup");
        rollupId = id;
        sequencer = sequencer_;
        admin = admin_;
        rotationDelay = rotationDelay_;
        registry = registry_;
        bytes32 root = step_.genesisRoot(genesis);
        genesisStateRoot = root;
        lastStateRoot = root;
        forcedWindow = forcedWindow_;
        inbox = inbox_;
        step = step_;
        leafReader = new FlavumLeaves();
        challengeWindow = challengeWindow_;
        minBond = msg.value;
        bond = msg.value;
        escapeDelay = escapeDelay_;
        deployedAtBlock = uint64(block.number);
        lastBatchBlock = uint64(block.number);
    }

    /// Restore the bond after a slash (anyone may pay it; only the sequencer posts).
    function topUpBond() external payable {
        bond += msg.value;
    }

    // --- roles: sequencer rotation -----------------------------------------------------------

    /// Propose `next` as the sequencer (admin only). It can take over from `rotationDelay` blocks
    /// on (activateSequencer), so everyone who would rather leave than trust it can first: a
    /// withdrawal asked for now is in a batch within the forced window (forced, if need be)
    /// and final a challenge window later, before the delay is over. A new proposal replaces a
    /// pending one, its delay counted again. The bond stays as it is: it is the rollup's, not
    /// a sequencer's, and a fraud proof against any batch, whoever posted it, takes it all.
    function proposeSequencer(address next) external {
        require(msg.sender == admin, "only the admin rotates the sequencer");
        require(next != address(0), "the sequencer cannot be address zero");
        pendingSequencer = next;
        pendingSequencerAtBlock = block.number + rotationDelay;
        emit SequencerProposed(next, block.number + rotationDelay);
    }

    /// Withdraw the pending proposal (admin only).
    function cancelSequencer() external {
        require(msg.sender == admin, "only the admin rotates the sequencer");
        address next = _pendingSequencer();
        delete pendingSequencer;
        delete pendingSequencerAtBlock;
        emit SequencerProposalCancelled(next);
    }

    /// Make the proposed sequencer the sequencer, once its delay is over (anyone may call).
    function activateSequencer() external {
        address next = _pendingSequencer();
        require(block.number >= pendingSequencerAtBlock, "the rotation delay is not over");
        emit SequencerActivated(sequencer, next);
        sequencer = next;
        delete pendingSequencer;
        delete pendingSequencerAtBlock;
    }

    function _pendingSequencer() private view returns (address next) {
        next = pendingSequencer;
        require(next != address(0), "no sequencer rotation is pending");
    }

    // --- forced inclusion -----------------------------------------------------------------

    /// Queue a signed rollup transaction (its wire encoding) for forced inclusion; refused here
    /// unless it is of this rollup's domain and signed by its sender (FlavumStep.checkForcible).
    function queueForcedTransaction(bytes calldata rawTx) external returns (uint256 requestId) {
        (bool ok, string memory reason, bytes32 txHash) = step.checkForcible(rawTx);
        require(ok, reason);
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

    /// `txs`: the batch's transactions and their commitments, packed (flavum/l1/evm_posting.py);
    /// empty for a batch without transactions:
    ///   chainId (32 bytes) | rollupId (32) | count (4) | count records, back to back
    ///   record: flags (1) | [chainId (32) | rollupId (32), if flags bit 2] | txType (1) |
    ///           sender (20) | nonce (8) | bodyLength (4) | body | signatureLength (2) |
    ///           signature | postStateRoot (32) | [withdrawalLeaf (32), if flags bit 0] |
    ///           [traceLeaf (32), if flags bit 1]
    /// Record i is the transaction whose wire encoding is abi.encode(txType, chainId, rollupId,
    /// sender, nonce, body, signature), its domain the batch's unless the record names its own
    /// (a transaction of another domain can be posted, to be challenged): canonical by
    /// construction, hashed from these fields as FlavumHashes.txHashOf hashes the wire bytes.
    /// Packed rather than ABI-encoded because calldata is most of a transaction's cost: no
    /// offset, length or padding words, the domain once per batch, no zero leaf for what a
    /// transaction did not emit.
    function submitBatch(
        FlavumHashes.Header calldata header,
        bytes calldata txs,
        Inference[] calldata inferences,
        ForcedInclusion[] calldata forced,
        ModelRegistry.Registration[] calldata registrations
    ) external {
        _acceptBatch(header, txs, inferences, forced, registrations);
    }

    /// submitBatch with the batch's data in the calldata (EVM calldata data availability).
    /// The data must be the blob the header points to: sha256(data) == header.dataPointer
    /// (the sha256 precompile), so an accepted batch's data is on chain for anyone to read.
    function submitBatchWithData(
        FlavumHashes.Header calldata header,
        bytes calldata txs,
        Inference[] calldata inferences,
        ForcedInclusion[] calldata forced,
        ModelRegistry.Registration[] calldata registrations,
        bytes calldata data
    ) external {
        require(sha256(data) == header.dataPointer, "batch data does not hash to the data pointer");
        _acceptBatch(header, txs, inferences, forced, registrations);
        emit BatchDataPosted(header.number, header.dataPointer, data.length);
    }

    function _acceptBatch(
        FlavumHashes.Header calldata header,
        bytes calldata txs,
        Inference[] calldata inferences,
        ForcedInclusion[] calldata forced,
        ModelRegistry.Registration[] calldata registrations
    ) private {
        require(msg.sender == sequencer, "only the sequencer posts batches");
        require(!escaped(), "the rollup is frozen in escape mode");
        require(bond >= minBond, "the sequencer's bond is short: top it up first");
        require(header.number == nextBatchNumber, "batch number out of order");
        require(header.prevStateRoot == lastStateRoot, "previous state root mismatch");
        if (txs.length != 0) {
            // The batch's domain is its first transaction's, which must be this rollup's: every
            // non-empty batch commits (through its tx root) to the one deployment it is for.
            require(_load(txs, 68, 1) & OWN_DOMAIN == 0, "packed transactions are malformed");
            require(
                _load(txs, 0, 32) == block.chainid && bytes32(_load(txs, 32, 32)) == rollupId,
                "the batch's transactions are signed for another rollup"
            );
        }

        uint64 forcedBefore = uint64(forcedHead);
        uint64 depositsBefore = uint64(depositsConsumed);
        bytes32 batchHash = FlavumHashes.batchHash(header);
        {
            (bytes32[] memory txHashes, bool hasDeposits) = _checkCommitments(header, txs);
            _consumeDeposits(txs, hasDeposits);
            _processForced(header.number, batchHash, txHashes, forced);
        }
        _checkProofs(header, batchHash, inferences, registrations);

        batches[header.number] = Batch(
            batchHash, header.withdrawalRoot, uint64(block.number), forcedBefore, depositsBefore
        );
        lastStateRoot = header.stateRoot;
        nextBatchNumber = header.number + 1;
        lastBatchBlock = uint64(block.number);
        emit BatchAccepted(header.number, batchHash, header.stateRoot, header.withdrawalRoot, inferences.length);
    }

    /// The withdrawal root of a final batch (accepted, its challenge window over); reverts
    /// otherwise: withdrawals pay only from final batches.
    function withdrawalRoot(uint256 number) external view returns (bytes32) {
        require(number < nextBatchNumber, "batch not accepted");
        require(block.number >= finalAtBlock(number), "batch not final yet: its challenge window is open");
        return batches[number].withdrawalRoot;
    }

    /// The block from which accepted batch `number` is final.
    function finalAtBlock(uint256 number) public view returns (uint256) {
        require(number < nextBatchNumber, "batch not accepted");
        return uint256(batches[number].acceptedAtBlock) + challengeWindow;
    }

    // --- escape hatch -----------------------------------------------------------------------

    /// The first block of escape mode: the first more than `escapeDelay` blocks after the one
    /// the last standing batch was accepted in (a reverted batch does not count: a sequencer
    /// cannot hold the freeze off with batches that are proven fraudulent).
    function escapeAtBlock() public view returns (uint256) {
        return uint256(lastBatchBlock) + escapeDelay + 1;
    }

    /// Is the rollup frozen? Then no batch is accepted again; since the delay exceeds the
    /// challenge window, every batch it holds is final (none can be challenged any more), so
    /// nothing changes it after: the freeze is for good.
    function escaped() public view returns (bool) {
        return block.number >= escapeAtBlock();
    }

    /// The state root escape withdrawals are proven against: the last batch's, final (the
    /// genesis root if no batch stands). Reverts before the freeze.
    function escapeRoot() external view returns (bytes32) {
        require(escaped(), "the rollup is not in escape mode yet");
        return lastStateRoot;
    }

    // --- challenges -------------------------------------------------------------------------

    /// Prove that transaction `c.index` of a batch still in its window is fraud: re-executed
    /// from the previous transaction's committed state root it is refused, or it gives another
    /// post-state root or other emissions than committed. Reverts when it checks out (or the
    /// witness proves nothing); otherwise reverts this batch and all later ones and pays the
    /// bond to the caller. Anyone may call; no bond is needed to challenge.
    function challenge(Challenge calldata c) external {
        require(c.number < nextBatchNumber, "batch not accepted");
        require(block.number < finalAtBlock(c.number), "batch is final: its challenge window is over");
        require(FlavumHashes.batchHash(c.header) == batches[c.number].batchHash, "header is not the batch's");
        _revertFrom(c.number, c.header.prevStateRoot, c.index, _fraud(c, _preStateRoot(c)));
    }

    /// Prove that a batch still in its window refused a forced request that was valid where it
    /// refused it: FlavumStep re-executes it on the committed state at that position and finds
    /// nothing to refuse. Reverts the batch and every later one and pays the bond to the
    /// caller; reverts when the refused transaction is invalid there (or the witness proves
    /// nothing). Anyone may call.
    function challengeRefusal(RefusalChallenge calldata c) external {
        require(c.number < nextBatchNumber, "batch not accepted");
        require(block.number < finalAtBlock(c.number), "batch is final: its challenge window is over");
        bytes32 batchHash = FlavumHashes.batchHash(c.header);
        require(batchHash == batches[c.number].batchHash, "header is not the batch's");
        require(c.requestIds.length == c.positions.length && c.which < c.positions.length, "no such refusal");
        bytes32 refusals = 0;
        for (uint256 i = 0; i < c.positions.length; i++) {
            refusals = keccak256(abi.encode(refusals, c.requestIds[i], c.positions[i]));
        }
        require(refusals != 0 && refusals == refusalsOf[batchHash], "not the batch's refusals");
        (bytes32 txHash,) = FlavumHashes.txHashOf(c.raw);
        require(txHash == forcedQueue[c.requestIds[c.which]].txHash, "not the refused transaction");
        uint256 position = c.positions[c.which];
        bytes32 preRoot = c.header.prevStateRoot;
        if (position > 0) {
            bytes32 prev = _txLeaf(c.prevTxHash, c.prevPostStateRoot, c.prevWithdrawalLeaf, c.prevTraceLeaf);
            require(
                FlavumHashes.verifyTreeProof(c.header.txRoot, prev, position - 1, c.prevProof),
                "previous transaction not in the batch"
            );
            preRoot = c.prevPostStateRoot;
        }
        FlavumStep.TraceClaim memory none;
        (uint8 verdict, string memory reason,) = step.judge(preRoot, c.raw, c.entries, c.writes, 0, none);
        require(verdict != step.BAD_WITNESS(), reason);
        require(verdict == step.OK(), "no fraud: the refused transaction is invalid there");
        _revertFrom(c.number, c.header.prevStateRoot, position, "a valid forced transaction was refused");
    }

    /// The committed state root before transaction c.index (after the one before it).
    function _preStateRoot(Challenge calldata c) private pure returns (bytes32) {
        (bytes32 txHash,) = FlavumHashes.txHashOf(c.tx.raw);
        bytes32 leaf = _txLeaf(txHash, c.tx.postStateRoot, c.tx.withdrawalLeaf, c.tx.traceLeaf);
        require(FlavumHashes.verifyTreeProof(c.header.txRoot, leaf, c.index, c.txProof), "transaction not in the batch");
        if (c.index == 0) {
            return c.header.prevStateRoot;
        }
        bytes32 prev = _txLeaf(c.prevTxHash, c.prevPostStateRoot, c.prevWithdrawalLeaf, c.prevTraceLeaf);
        require(
            FlavumHashes.verifyTreeProof(c.header.txRoot, prev, c.index - 1, c.prevProof),
            "previous transaction not in the batch"
        );
        return c.prevPostStateRoot;
    }

    /// Why the transaction is fraud; reverts when it is not (or the witness proves nothing).
    function _fraud(Challenge calldata c, bytes32 preRoot) private view returns (string memory) {
        (uint8 verdict, string memory reason, FlavumStep.Result memory r) =
            step.judge(preRoot, c.tx.raw, c.entries, c.writes, c.tx.traceLeaf, c.claim);
        require(verdict != step.BAD_WITNESS(), reason);
        if (verdict == step.INVALID()) {
            return reason;
        }
        if (r.postStateRoot != c.tx.postStateRoot) {
            return "wrong post-state root";
        }
        require(
            r.withdrawalLeaf != c.tx.withdrawalLeaf || r.traceLeaf != c.tx.traceLeaf,
            "no fraud: the transaction re-executes to what was committed"
        );
        return "wrong emission";
    }

    /// Revert batch `number` (whose header has `prevStateRoot`) and every later one.
    function _revertFrom(uint64 number, bytes32 prevStateRoot, uint256 index, string memory reason) private {
        Batch storage b = batches[number];
        lastStateRoot = prevStateRoot;
        forcedHead = b.forcedHeadBefore;
        depositsConsumed = b.depositsBefore;
        nextBatchNumber = number;
        lastBatchBlock = number == 0 ? deployedAtBlock : batches[number - 1].acceptedAtBlock;
        uint256 prize = bond;
        bond = 0;
        emit BatchesReverted(number, index, msg.sender, reason, prize);
        (bool ok,) = msg.sender.call{value: prize}("");
        require(ok, "paying the challenger failed");
    }

    /// keccak256(abi.encode(TX_LEAF_TAG, txHash, postRoot, withdrawalLeaf, traceLeaf)), hashed in
    /// scratch memory past the free memory pointer (abi.encode would allocate, once per tx).
    function _txLeaf(bytes32 txHash, bytes32 postRoot, bytes32 withdrawalLeaf, bytes32 traceLeaf)
        private
        pure
        returns (bytes32 leaf)
    {
        bytes32 tag = TX_LEAF_TAG;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, tag)
            mstore(add(p, 0x20), txHash)
            mstore(add(p, 0x40), postRoot)
            mstore(add(p, 0x60), withdrawalLeaf)
            mstore(add(p, 0x80), traceLeaf)
            leaf := keccak256(p, 0xa0)
        }
    }

    /// Every Deposit of this ledger in the batch must be the inbox's next deposit, body for
    /// body; and no inbox deposit older than `forcedWindow` blocks may be left unconsumed.
    function _consumeDeposits(bytes calldata txs, bool hasDeposits) private {
        uint256 next = depositsConsumed;
        if (hasDeposits) {
            bytes32 ledger = inbox.ledgerId();
            uint256 at = _firstRecord(txs);
            for (uint256 i = 0; i < _txCount(txs); i++) {
                (uint256 flags, uint256 fields, bytes calldata body,, uint256 end) = _txFields(txs, at);
                (,,, at) = _commitment(txs, end, flags);
                uint8 txType = uint8(_load(txs, fields, 1));
                // A deposit from another ledger is not this inbox's to check.
                if (txType != DEPOSIT_TX_TYPE || body.length < 64 || bytes32(_load(body, 0, 32)) != ledger) {
                    continue;
                }
                (bytes32 bodyHash,) = inbox.deposit(next); // reverts past the inbox: a forged deposit
                require(keccak256(body) == bodyHash, "deposit does not match the inbox");
                next++;
            }
            depositsConsumed = next;
        }
        if (next < inbox.depositCount()) {
            (, uint64 at) = inbox.deposit(next);
            require(block.number < uint256(at) + forcedWindow, "batch skips an overdue deposit");
        }
    }

    /// Hash every transaction and check that the header's roots follow from the commitments:
    /// the tx root from the tx leaves, the state root from the last post-state root, the
    /// withdrawal and trace roots from the non-zero emitted leaves. Returns the tx hashes.
    function _checkCommitments(FlavumHashes.Header calldata header, bytes calldata txs)
        private
        pure
        returns (bytes32[] memory txHashes, bool hasDeposits)
    {
        uint256 n = _txCount(txs);
        txHashes = new bytes32[](n);
        Leaves memory leaves = Leaves(new bytes32[](n), new bytes32[](n), 0, new bytes32[](n), 0);
        bytes32 last = header.prevStateRoot;
        uint256 at = _firstRecord(txs);
        for (uint256 i = 0; i < n; i++) {
            bool isDeposit;
            (last, isDeposit, at) = _takeRecord(txs, at, i, txHashes, leaves);
            hasDeposits = hasDeposits || isDeposit;
        }
        require(at == txs.length, "packed transactions are malformed");
        bytes32[] memory withdrawalLeaves = leaves.withdrawalLeaves;
        bytes32[] memory traceLeaves = leaves.traceLeaves;
        uint256 withdrawals = leaves.withdrawals;
        uint256 traces = leaves.traces;
        assembly {
            mstore(withdrawalLeaves, withdrawals)
            mstore(traceLeaves, traces)
        }
        require(
            FlavumHashes.computeTreeRoot(leaves.txLeaves) == header.txRoot, "tx root does not follow from the transactions"
        );
        require(last == header.stateRoot, "state root is not the last transaction's post-state root");
        require(
            FlavumHashes.computeTreeRoot(withdrawalLeaves) == header.withdrawalRoot,
            "withdrawal root does not follow from the transactions"
        );
        require(
            FlavumHashes.computeTreeRoot(traceLeaves) == header.traceRoot, "trace root does not follow from the transactions"
        );
    }

    /// The leaves of a batch's commitments, gathered record by record (the emitted ones in
    /// order, their counts apart: the arrays are cut to them once all are read).
    struct Leaves {
        bytes32[] txLeaves;
        bytes32[] withdrawalLeaves;
        uint256 withdrawals;
        bytes32[] traceLeaves;
        uint256 traces;
    }

    /// Read record `i` at `at`: its tx hash into txHashes[i], its leaves into `leaves`.
    /// Returns its post-state root, whether it is a Deposit, and where the next record begins.
    function _takeRecord(bytes calldata txs, uint256 at, uint256 i, bytes32[] memory txHashes, Leaves memory leaves)
        private
        pure
        returns (bytes32 postStateRoot, bool isDeposit, uint256 next)
    {
        uint8 txType;
        uint256 flags;
        (txHashes[i], txType, flags, next) = _txHash(txs, at);
        isDeposit = txType == DEPOSIT_TX_TYPE;
        bytes32 withdrawalLeaf;
        bytes32 traceLeaf;
        (postStateRoot, withdrawalLeaf, traceLeaf, next) = _commitment(txs, next, flags);
        leaves.txLeaves[i] = _txLeaf(txHashes[i], postStateRoot, withdrawalLeaf, traceLeaf);
        if (withdrawalLeaf != bytes32(0)) leaves.withdrawalLeaves[leaves.withdrawals++] = withdrawalLeaf;
        if (traceLeaf != bytes32(0)) leaves.traceLeaves[leaves.traces++] = traceLeaf;
    }

    // --- the packed transactions of submitBatch ----------------------------------------------

    /// How many records `txs` holds. No transactions are posted as empty bytes only: one
    /// encoding per batch.
    function _txCount(bytes calldata txs) private pure returns (uint256 count) {
        if (txs.length == 0) {
            return 0;
        }
        count = _load(txs, 64, 4);
        require(count > 0, "packed transactions are malformed");
    }

    /// Where the first record begins: after the domain and the count.
    function _firstRecord(bytes calldata txs) private pure returns (uint256) {
        return txs.length == 0 ? 0 : 68;
    }

    /// The `size`-byte big-endian number at `at` of `data` (calldataload: converting a calldata
    /// slice to bytesN would copy it to memory first).
    /// `at` is a sum of a few lengths read from calldata: far from overflowing.
    function _load(bytes calldata data, uint256 at, uint256 size) private pure returns (uint256 value) {
        unchecked {
            require(at + size <= data.length, "packed transactions are malformed");
        }
        assembly ("memory-safe") {
            value := shr(sub(256, mul(8, size)), calldataload(add(data.offset, at)))
        }
    }

    /// The transaction part of the record at `at`: its flags, where its type, sender and nonce
    /// sit (29 bytes), its body and signature; and where its commitment part begins.
    function _txFields(bytes calldata txs, uint256 at)
        private
        pure
        returns (uint256 flags, uint256 fields, bytes calldata body, bytes calldata signature, uint256 end)
    {
        flags = _load(txs, at, 1);
        require(flags <= (EMITS_WITHDRAWAL | EMITS_TRACE | OWN_DOMAIN), "packed transactions are malformed");
        unchecked {
            // Offsets within calldata plus lengths of at most 32 bits: no overflow.
            fields = flags & OWN_DOMAIN != 0 ? at + 65 : at + 1;
            uint256 bodyStart = fields + 33;
            uint256 bodyEnd = bodyStart + _load(txs, fields + 29, 4);
            body = txs[bodyStart:bodyEnd];
            end = bodyEnd + 2 + _load(txs, bodyEnd, 2);
            signature = txs[bodyEnd + 2:end];
        }
    }

    /// The tx hash of the record at `at` (FlavumHashes.txHashOf of its wire encoding), its type,
    /// its flags and where its commitment part begins.
    function _txHash(bytes calldata txs, uint256 at)
        private
        pure
        returns (bytes32 txHash, uint8 txType, uint256 flags, uint256 end)
    {
        uint256 fields;
        bytes calldata body;
        bytes calldata signature;
        (flags, fields, body, signature, end) = _txFields(txs, at);
        (uint256 chainId, bytes32 rollupId) = _domain(txs, at, flags);
        uint256 head = _load(txs, fields, 29); // txType (1) | sender (20) | nonce (8)
        txType = uint8(head >> 224);
        txHash = FlavumHashes.txHashOfFields(
            chainId, rollupId, txType, address(uint160(head >> 64)), uint64(head), body, signature
        );
    }

    /// The domain of the record at `at`: its own, which differs from the batch's (one encoding
    /// per transaction), or the batch's.
    function _domain(bytes calldata txs, uint256 at, uint256 flags)
        private
        pure
        returns (uint256 chainId, bytes32 rollupId)
    {
        chainId = _load(txs, 0, 32);
        rollupId = bytes32(_load(txs, 32, 32));
        if (flags & OWN_DOMAIN != 0) {
            uint256 ownChain = _load(txs, at + 1, 32);
            bytes32 ownRollup = bytes32(_load(txs, at + 33, 32));
            require(ownChain != chainId || ownRollup != rollupId, "packed transactions are malformed");
            (chainId, rollupId) = (ownChain, ownRollup);
        }
    }

    /// The commitment part of a record at `at` (its flags say which leaves follow), and where
    /// the next record begins. A leaf the flags announce is never zero: one encoding per
    /// commitment.
    function _commitment(bytes calldata txs, uint256 at, uint256 flags)
        private
        pure
        returns (bytes32 postStateRoot, bytes32 withdrawalLeaf, bytes32 traceLeaf, uint256 next)
    {
        postStateRoot = bytes32(_load(txs, at, 32));
        next = at + 32;
        if (flags & EMITS_WITHDRAWAL != 0) {
            withdrawalLeaf = bytes32(_load(txs, next, 32));
            require(withdrawalLeaf != bytes32(0), "packed transactions are malformed");
            next += 32;
        }
        if (flags & EMITS_TRACE != 0) {
            traceLeaf = bytes32(_load(txs, next, 32));
            require(traceLeaf != bytes32(0), "packed transactions are malformed");
            next += 32;
        }
    }

    function _processForced(
        uint64 number,
        bytes32 batchHash,
        bytes32[] memory txHashes,
        ForcedInclusion[] calldata forced
    ) private {
        uint256 head = forcedHead;
        bytes32 refusals = 0;
        for (uint256 i = 0; i < forced.length; i++) {
            ForcedInclusion calldata f = forced[i];
            // In queue order, none skipped: the oldest request is always dealt with first.
            require(f.requestId == head, "forced requests out of order");
            if (f.included) {
                require(
                    f.txIndex < txHashes.length && txHashes[f.txIndex] == forcedQueue[head].txHash,
                    "forced transaction not in the batch"
                );
            } else {
                require(f.txIndex <= txHashes.length, "refusal position past the batch");
                refusals = keccak256(abi.encode(refusals, head, f.txIndex));
            }
            emit ForcedRequestProcessed(head, number, f.included);
            head++;
        }
        forcedHead = head;
        if (refusals != 0) {
            refusalsOf[batchHash] = refusals;
        }
        // The oldest request left must still be within its window.
        require(
            head == forcedQueue.length || block.number < uint256(forcedQueue[head].queuedAtBlock) + forcedWindow,
            "batch skips an overdue forced request"
        );
    }

    /// Bind the models this batch proves for the first time (shown in its own state root),
    /// then verify every proof: their public values must rebuild the header's trace root.
    function _checkProofs(
        FlavumHashes.Header calldata header,
        bytes32 batchHash,
        Inference[] calldata inferences,
        ModelRegistry.Registration[] calldata registrations
    ) private {
        for (uint256 i = 0; i < registrations.length; i++) {
            registry.registerAt(header.number, batchHash, header.stateRoot, registrations[i]);
        }
        require(_computeTraceRoot(inferences, header.number, batchHash) == header.traceRoot, "trace root mismatch");
    }

    /// Verify every proof and return the root of the trace leaves rebuilt from their public values.
    function _computeTraceRoot(Inference[] calldata inferences, uint64 number, bytes32 batchHash)
        private
        returns (bytes32)
    {
        ModelRegistry.Model[] memory models = new ModelRegistry.Model[](inferences.length);
        uint256 total = 0;
        for (uint256 i = 0; i < inferences.length; i++) {
            models[i] = _registered(inferences[i], number, batchHash);
            if (models[i].inputs == INPUTS_TRAINING_STEP) {
                // One leaf per training: its first proof counts it.
                if (!_continuesTraining(inferences, i)) total++;
            } else {
                total += _leafCount(inferences[i], models[i].inputs != INPUTS_ONE);
            }
        }
        bytes32[] memory leaves = new bytes32[](total);
        uint256 next = 0;
        Chain memory chain;
        for (uint256 i = 0; i < inferences.length; i++) {
            Inference calldata inf = inferences[i];
            _verifyProof(inf, models[i]);
            if (models[i].inputs == INPUTS_TRAINING_STEP) {
                _chainStep(inf, _continuesTraining(inferences, i), chain);
                if (i + 1 == inferences.length || !_continuesTraining(inferences, i + 1)) {
                    leaves[next++] = FlavumHashes.traceLeaf(
                        inf.txHashes[0], FlavumHashes.trainingWord(inf.modelId, chain.paramsIn, chain.steps),
                        chain.rowsHash, chain.paramsOut, inf.resultIds[0]
                    );
                }
            } else {
                uint32 inputs = models[i].inputs;
                bytes32[] memory own = leafReader.leaves(
                    inf.modelId, inputs, inf.txHashes, inf.resultIds, inf.instances,
                    uint8(inputs) == INPUTS_ROW_POINTS ? inf.proof : inf.proof[:0]
                );
                for (uint256 j = 0; j < own.length; j++) {
                    leaves[next++] = own[j];
                }
            }
        }
        return FlavumHashes.computeTreeRoot(leaves);
    }

    /// A training's chain of step proofs, as far as it is read.
    struct Chain {
        bytes32 paramsIn;
        bytes32 rowsHash;
        bytes32 paramsOut;
        uint64 steps;
    }

    /// Does proof i continue the training of proof i - 1 (same step model, same Train)?
    function _continuesTraining(Inference[] calldata inferences, uint256 i) private pure returns (bool) {
        return i > 0 && inferences[i].modelId == inferences[i - 1].modelId
            && inferences[i].txHashes[0] == inferences[i - 1].txHashes[0];
    }

    /// Read one step proof into the chain: it starts where the one before ended (a skipped or
    /// reordered step breaks this), its rows follow the ones before.
    function _chainStep(Inference calldata inf, bool continues, Chain memory chain) private pure {
        // The step verifier fixed the count: params, B rows, new params.
        uint256 n = inf.instances.length;
        bytes32 paramsIn = bytes32(inf.instances[0]);
        if (continues) {
            require(paramsIn == chain.paramsOut, "training steps do not chain");
        } else {
            chain.paramsIn = paramsIn;
            chain.rowsHash = bytes32(0);
            chain.steps = 0;
        }
        for (uint256 r = 1; r + 1 < n; r++) {
            chain.rowsHash = FlavumHashes.rowsHashNext(chain.rowsHash, bytes32(inf.instances[r]));
        }
        chain.paramsOut = bytes32(inf.instances[n - 1]);
        chain.steps++;
    }

    /// The model of an inference in batch `number`, registered from a batch that stands (an
    /// earlier one, or this one), which must name exactly the rows its registration pinned.
    function _registered(Inference calldata inf, uint64 number, bytes32 batchHash)
        private
        view
        returns (ModelRegistry.Model memory model)
    {
        model = registry.getModel(inf.modelId);
        require(model.verifier != address(0), "model not registered");
        require(
            model.batchNumber == number
                ? model.batchHash == batchHash
                : model.batchNumber < number && batches[model.batchNumber].batchHash == model.batchHash,
            "model registered from a reverted batch: register it again"
        );
        require(
            inf.txHashes.length == model.rows && inf.resultIds.length == model.rows,
            "rows differ from the model's registration"
        );
    }

    function _verifyProof(Inference calldata inf, ModelRegistry.Model memory model) private {
        bool ok;
        bytes memory ret;
        if (model.reusable) {
            require(keccak256(abi.encodePacked(inf.vka)) == model.vkaDigest, "VKA not allowed for this model");
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
}

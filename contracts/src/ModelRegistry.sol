// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FlavumHashes} from "./FlavumHashes.sol";
import {FlavumSmt} from "./FlavumSmt.sol";

/// The ezkl reusable verifier: one bytecode for every circuit, keyed by a verifying-key artifact.
interface IReusableVerifier {
    function registerVka(bytes32[] calldata vka) external returns (bytes32);
}

/// What the registry reads of the rollup: which batches stand.
interface IRollupBatches {
    function nextBatchNumber() external view returns (uint64);
    function batches(uint256 number)
        external
        view
        returns (bytes32 batchHash, bytes32 withdrawalRoot, uint64 acceptedAtBlock, uint64 forcedHeadBefore, uint64 depositsBefore);
}

/// @title ModelRegistry: rollup model id -> the on-chain verifier its DeployModel committed to.
/// @notice Registration is open to anyone and needs no key: the registrant shows the MODEL object
/// in the state root of a batch the rollup holds (a sparse-Merkle inclusion proof) together with
/// the preimage of its metadata hash, the model's binding (flavum.core.model_binding). The
/// binding names the runtime code hash of the model's own verifier, and the digest of its
/// verifying-key artifact (VKA) with the code hash of the reusable verifier that reads it; the
/// registry checks the verifier's code (EXTCODEHASH) or hashes the VKA words, so a verifier that
/// accepts everything cannot be bound to a model whose owner did not commit to it. The binding
/// also pins how the model's proofs are read (`rows`, `inputs`, see FlavumRollup.Inference).
/// A registration is only as good as the batch it was shown in: if a fraud proof reverts that
/// batch, the registration stops counting (`isStanding`) and the model is registered again.
/// The rollup registers models while it accepts a batch (`registerAt`, proven against that
/// batch's state root), so a model deployed and used in one batch needs no extra step.
contract ModelRegistry {
    uint8 internal constant KIND_MODEL = 1;

    struct Model {
        address verifier;
        bool reusable;
        uint32 rows; // trace rows per proof (padding rows included)
        uint32 inputs; // how its input commitments are read: FlavumRollup.INPUTS_* (+ row width)
        uint64 batchNumber; // the batch whose state root showed the model
        address owner;
        bytes32 vkHash;
        bytes32 vkaDigest; // the only VKA its proofs are checked with (reusable)
        bytes32 batchHash;
    }

    /// A MODEL object (its leaf's preimage, field for field), the preimage of its metadata hash,
    /// its leaf's proof in a batch's state root, and the verifier to bind: its own (`vka` empty)
    /// or a reusable verifier reading `vka`.
    struct Registration {
        FlavumHashes.Object model;
        FlavumHashes.ModelBinding binding;
        FlavumSmt.Proof proof;
        address verifier;
        bytes32[] vka;
    }

    IRollupBatches public immutable rollup;
    mapping(bytes32 => Model) private models;

    event ModelRegistered(
        bytes32 indexed modelId,
        address verifier,
        bool reusable,
        bytes32 vkaDigest,
        uint64 batchNumber,
        uint32 rows,
        uint32 inputs
    );

    /// `rollup_` is deployed after this contract (its address is known in advance: CREATE).
    constructor(IRollupBatches rollup_) {
        rollup = rollup_;
    }

    /// Bind a model shown in accepted batch `header.number` (the header in full, as it was
    /// posted). Anyone may call it.
    function register(FlavumHashes.Header calldata header, Registration calldata r) external {
        require(header.number < rollup.nextBatchNumber(), "batch not accepted");
        bytes32 batchHash = FlavumHashes.batchHash(header);
        (bytes32 standing,,,,) = rollup.batches(header.number);
        require(standing == batchHash, "not the header of the accepted batch");
        _register(header.number, batchHash, header.stateRoot, r);
    }

    /// The rollup, accepting batch `number`, binds a model shown in that batch's state root.
    function registerAt(uint64 number, bytes32 batchHash, bytes32 stateRoot, Registration calldata r) external {
        require(msg.sender == address(rollup), "only the rollup registers while posting");
        _register(number, batchHash, stateRoot, r);
    }

    function _register(uint64 number, bytes32 batchHash, bytes32 stateRoot, Registration calldata r) private {
        FlavumHashes.Object calldata o = r.model;
        require(o.kind == KIND_MODEL, "not a MODEL object");
        require(o.metadataHash == FlavumHashes.modelBindingHash(r.binding), "not the model's binding");
        require(
            FlavumSmt.verify(stateRoot, FlavumHashes.objectKey(o.objectId), keccak256(FlavumHashes.objectPreimage(o)), r.proof),
            "model not in the batch's state"
        );
        require(r.binding.rows > 0, "a model's proofs have at least one row");
        // A standing binding is permanent: changing it would change what past proofs mean.
        require(!isStanding(o.objectId), "model already registered");
        bytes32 digest;
        bool reusable = r.vka.length > 0;
        if (!reusable) {
            require(r.binding.verifierCodeHash != 0, "the model has no verifier of its own: register its VKA");
            require(r.verifier.codehash == r.binding.verifierCodeHash, "verifier code is not the model's");
        } else {
            require(r.verifier.codehash == r.binding.reusableCodeHash, "reusable verifier code is not the model's");
            digest = keccak256(abi.encodePacked(r.vka));
            require(digest == r.binding.vkaDigest, "VKA is not the model's");
            // The verifier computes the same digest (keccak of the words); it must agree.
            require(IReusableVerifier(r.verifier).registerVka(r.vka) == digest, "verifier disagrees on the VKA digest");
        }
        models[o.objectId] = Model(
            r.verifier, reusable, r.binding.rows, r.binding.inputs, number, o.owner, o.vkHash, digest, batchHash
        );
        emit ModelRegistered(
            o.objectId, r.verifier, reusable, digest, number, r.binding.rows, r.binding.inputs
        );
    }

    /// Is the model registered from a batch the rollup still holds?
    function isStanding(bytes32 modelId) public view returns (bool) {
        Model storage m = models[modelId];
        if (m.verifier == address(0) || m.batchNumber >= rollup.nextBatchNumber()) {
            return false;
        }
        (bytes32 standing,,,,) = rollup.batches(m.batchNumber);
        return standing == m.batchHash;
    }

    function getModel(bytes32 modelId) external view returns (Model memory) {
        return models[modelId];
    }
}

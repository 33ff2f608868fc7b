// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// The ezkl reusable verifier: one bytecode for every circuit, keyed by a verifying-key artifact.
interface IReusableVerifier {
    function registerVka(bytes32[] calldata vka) external returns (bytes32);
}

/// @title ModelRegistry: rollup model id -> on-chain verifier, circuit vk hash, owner.
/// @notice A model is registered once, when the batch holding its DeployModel transaction is
/// posted, by the registrar (the sequencer's key). Either it has its own verifier contract, or
/// its verifying-key artifact (VKA) is registered on a shared reusable verifier. Registration on
/// the reusable verifier is open to anyone, so this registry keeps its own allow-list of VKA
/// digests per model: a proof for model X is only accepted with a VKA this registry bound to X.
/// The registry also pins how a model's public values are read (`rows`, `perRowInputs`, see
/// FlavumRollup.Inference), so a poster cannot read a valid proof with another layout.
contract ModelRegistry {
    struct Model {
        address verifier;
        bool reusable;
        address owner;
        bytes32 vkHash;
        uint32 rows; // trace rows per proof (padding rows included)
        bool perRowInputs; // one input commitment per row, else one for the whole proof
    }

    address public immutable registrar;
    mapping(bytes32 => Model) private models;
    mapping(bytes32 => mapping(bytes32 => bool)) public vkaAllowed;

    event ModelRegistered(
        bytes32 indexed modelId,
        address verifier,
        bool reusable,
        bytes32 vkHash,
        address owner,
        bytes32 vkaDigest,
        uint32 rows,
        bool perRowInputs
    );

    constructor(address registrar_) {
        registrar = registrar_;
    }

    modifier onlyRegistrar() {
        require(msg.sender == registrar, "only the registrar registers models");
        _;
    }

    /// Bind `modelId` to its own verifier contract (`verifyProof(bytes,uint256[])`).
    function registerModel(
        bytes32 modelId,
        address verifier,
        bytes32 vkHash,
        address owner,
        uint32 rows,
        bool perRowInputs
    ) external onlyRegistrar {
        _register(modelId, Model(verifier, false, owner, vkHash, rows, perRowInputs), bytes32(0));
    }

    /// Bind `modelId` to `vka` on the shared reusable verifier (registering it there too).
    function registerModelVka(
        bytes32 modelId,
        address verifier,
        bytes32 vkHash,
        address owner,
        uint32 rows,
        bool perRowInputs,
        bytes32[] calldata vka
    ) external onlyRegistrar {
        require(vka.length > 0, "empty VKA");
        bytes32 digest = keccak256(abi.encodePacked(vka));
        // The verifier computes the same digest (keccak of the words); it must agree.
        require(IReusableVerifier(verifier).registerVka(vka) == digest, "verifier disagrees on the VKA digest");
        vkaAllowed[modelId][digest] = true;
        _register(modelId, Model(verifier, true, owner, vkHash, rows, perRowInputs), digest);
    }

    function _register(bytes32 modelId, Model memory model, bytes32 digest) private {
        require(modelId != bytes32(0), "model id zero");
        require(model.rows > 0, "a model's proofs have at least one row");
        // A binding is permanent: changing it would change what past proofs mean.
        require(models[modelId].verifier == address(0), "model already registered");
        require(model.verifier.code.length > 0, "verifier has no code");
        models[modelId] = model;
        emit ModelRegistered(
            modelId, model.verifier, model.reusable, model.vkHash, model.owner, digest, model.rows, model.perRowInputs
        );
    }

    function getModel(bytes32 modelId) external view returns (Model memory) {
        return models[modelId];
    }
}

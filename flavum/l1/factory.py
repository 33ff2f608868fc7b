"""`open_ledger`: the ledger a `[[ledger]]` table of the configuration names, for the node
(which posts to it) and for the CLI (deposits, withdrawals, independent verification).

  kind = "evm",      url = "embedded"   an in-process EVM, deployed afresh at every start
  kind = "evm",      url = JSON-RPC URL  the contracts of the deployment file (`flavum l1 deploy`)
  kind = "litecoin", url = RPC URL       Litecoin Core; rpc_user, rpc_password, threshold,
                                         federation_public_keys and signers (the members' URLs),
                                         anchor_key (a verifier: anchor_public_key) and
                                         start_height in its options;
                                         federation_keys: keys the node signs with (dev only)

A handle opened without a key loader has no sequencer key: it reads, and users sign their own
calls. An unknown kind or a missing setting raises ConfigError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flavum.core.codec import to_hex
from flavum.core.errors import ConfigError
from flavum.core.genesis import Genesis
from flavum.core.state import Domain
from flavum.core.types import Address, Hash32
from flavum.l1.interface import Ledger


class LedgerSettings(Protocol):
    """The fields of a `[[ledger]]` table the factory reads (the node's LedgerSpec)."""

    name: str
    kind: str  # evm | litecoin
    url: str
    deployment: str  # evm over RPC: the deployment file, relative to the home directory
    sequencer_key: str  # the name of the key that posts batches
    forced_window: int
    challenge_window: int | None  # None: the default (0 on the embedded EVM)
    escape_delay: int | None  # None: the default (evm_deploy.DEFAULT_ESCAPE_DELAY)
    rotation_delay: int | None  # None: the default (the windows + evm_deploy.ROTATION_MARGIN)
    options: Mapping[str, Any]


@dataclass(frozen=True)
class OpenedLedger:
    ledger: Ledger
    start_block: int  # where a watcher of its deposits starts
    ephemeral: bool  # the chain lives in this process only (gone when the process stops)


def open_ledger(spec: LedgerSettings, home: Path, *, genesis: Genesis | None = None,
                load_key: Callable[[str], bytes] | None = None,
                funded_keys: Sequence[bytes] = ()) -> OpenedLedger:
    """Open the ledger `spec` describes. `load_key` gives a key by its name (the node's key
    store): without it the handle signs nothing. `genesis` is the rollup's domain and the
    state batch 0 starts from: an embedded EVM is deployed for it, and a deployed rollup must
    hold its root; `funded_keys` get coins on an embedded EVM."""
    if spec.kind == "evm":
        return _open_evm(spec, home, genesis, load_key, funded_keys)
    if spec.kind == "litecoin":
        return _open_litecoin(spec, None if genesis is None else genesis.root)
    raise ConfigError(f"unknown ledger kind {spec.kind!r}: evm or litecoin")


def embedded_domain(sequencer: Address) -> Domain:
    """The domain of an embedded EVM ledger posted to with the key of address `sequencer`:
    the node deploys it afresh with that key at every start (flavum.l1.evm_identity)."""
    from flavum.l1.evm_identity import compute_embedded_domain

    return compute_embedded_domain(sequencer)


def _open_evm(spec: LedgerSettings, home: Path, genesis: Genesis | None,
              load_key: Callable[[str], bytes] | None,
              funded_keys: Sequence[bytes]) -> OpenedLedger:
    from flavum.core.transactions import address_of
    from flavum.l1.evm import EvmLedger
    from flavum.l1.evm_client import embedded_web3, rpc_web3
    from flavum.l1.evm_deploy import deploy_contracts
    from flavum.l1.evm_deployment import read_deployment
    from flavum.l1.evm_identity import read_domain

    key = None if load_key is None else load_key(spec.sequencer_key)
    if spec.url == "embedded":
        if key is None:
            raise ConfigError(
                f"ledger {spec.name!r} is the node's in-process EVM, reachable only from inside "
                "the node (flavum demo, tests): point it at a JSON-RPC node such as anvil for L1 "
                "commands")
        if genesis is None:
            raise ConfigError(f"ledger {spec.name!r}: an embedded EVM is deployed for the "
                              "rollup's genesis, and none was given")
        ledger = deploy_contracts(embedded_web3(funded_keys=funded_keys), key,
                                  sequencer=address_of(key), genesis=genesis,
                                  forced_window_blocks=spec.forced_window,
                                  challenge_window_blocks=spec.challenge_window or 0,
                                  escape_delay_blocks=spec.escape_delay,
                                  rotation_delay_blocks=spec.rotation_delay,
                                  ledger_name=spec.name, sequencer_key=key)
        return OpenedLedger(ledger, ledger.deployment.deployed_at_block, True)
    path = home / (spec.deployment or f"{spec.name}-deployment.json")
    if not path.exists():
        raise ConfigError(f"no deployment for ledger {spec.name} at {path}: run "
                          f"`flavum l1 deploy --ledger {spec.name}`")
    deployment = read_deployment(path)
    ledger = EvmLedger(rpc_web3(spec.url), deployment, key)
    if genesis is not None and ledger.genesis_state_root() != genesis.root:
        raise ConfigError(
            f"ledger {spec.name}: the rollup at {deployment.rollup} starts from genesis root "
            f"{to_hex(ledger.genesis_state_root())}, this home's genesis is "
            f"{to_hex(genesis.root)}: another rollup's deployment")
    if genesis is not None:
        _check_domain(spec.name, read_domain(ledger.w3, deployment.rollup), genesis.domain)
    return OpenedLedger(ledger, deployment.deployed_at_block, False)


def _check_domain(name: str, deployed: Domain, home: Domain) -> None:
    """Refuse contracts of another deployment than the one this home's state is signed for:
    its one-step executor would judge every transaction of the store fraudulent."""
    if deployed != home:
        raise ConfigError(
            f"ledger {name}: the contracts are rollup {to_hex(deployed.rollup_id)} on chain "
            f"{deployed.chain_id}, this home's state is signed for rollup "
            f"{to_hex(home.rollup_id)} on chain {home.chain_id}: another deployment, to which "
            "nothing of this home is posted (docs/configuration.md, deployment identity)")


def _open_litecoin(spec: LedgerSettings, genesis_root: Hash32 | None) -> OpenedLedger:
    from flavum.l1.litecoin import LitecoinLedger

    options = spec.options
    try:
        public_keys = options.get("federation_public_keys")
        ledger = LitecoinLedger(
            spec.url, str(options["rpc_user"]), str(options["rpc_password"]),
            threshold=int(options["threshold"]), signers=list(options.get("signers", [])),
            federation_keys=list(options.get("federation_keys", [])),
            federation_public_keys=None if public_keys is None else list(public_keys),
            anchor_key=options.get("anchor_key"),
            anchor_public_key=options.get("anchor_public_key"),
            name=spec.name, start_height=int(options.get("start_height", 0)),
            genesis_state_root=genesis_root)
    except KeyError as exc:
        raise ConfigError(f"ledger {spec.name} (litecoin) needs {exc.args[0]}") from exc
    return OpenedLedger(ledger, int(options.get("start_height", 0)), False)

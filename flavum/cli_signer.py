"""`flavum signer`: run one member of a Litecoin federation (flavum/signer.py) in its own home."""

import logging
import signal
from pathlib import Path

import typer

from flavum.cli_common import JsonOption, command, emit
from flavum.core.codec import to_hex

signer_app = typer.Typer(help="A Litecoin federation signer (its own key, node and verifier).",
                         no_args_is_help=True)
SignerHome = typer.Option(Path.home() / ".flavum-signer", "--home",
                          help="The signer's home: signer.toml, signer.key, journal.db.")


@signer_app.command("key")
@command
def signer_key(home: Path = SignerHome, as_json: bool = JsonOption) -> None:
    """Create the signer's key (mode 0600) unless it has one; print its public key, which
    goes into the federation's `federation_public_keys`."""
    from flavum.signer import create_signer_key

    public = to_hex(create_signer_key(home))
    emit({"public_key": public}, as_json, f"public key: {public}")


@signer_app.command("run")
@command
def signer_run(home: Path = SignerHome, host: str | None = typer.Option(None),
               port: int | None = typer.Option(None), as_json: bool = JsonOption) -> None:
    """Serve co-sign requests until stopped (Ctrl-C or SIGTERM)."""
    from flavum.signer import FederationSigner
    from flavum.signer_http import SignerServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    signer = FederationSigner.open(home)
    config = signer.config
    server = SignerServer(signer, host or config.host, config.port if port is None else port)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as Ctrl-C does
    print(f"signer {to_hex(signer.public_key)} on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signer.close()

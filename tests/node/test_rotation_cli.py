"""Sequencer rotation through the CLI on anvil: deployed with an admin of its own (its key kept
out of the home), `flavum l1 roles` shows who may do what; the sequencer's key cannot
rotate, the admin's proposal waits out its delay (`--activate` refused before), then anyone
activates it."""

import json
import os

import pytest

from flavum.core.codec import to_hex
from flavum.core.transactions import address_of
from flavum.node.config import LedgerSpec
from tests.l1.conftest import ANVIL, Anvil

from .conftest import make_config
from .test_cli_and_restart import flavum
from .test_cli_anvil import SEQUENCER_KEY, cli_deploy

ADMIN_KEY = b"\x37" * 32
NEW_KEY = b"\x36" * 32

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")


def roles(home) -> dict:
    out = flavum("l1", "roles", "--json", home=home)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_rotate_the_sequencer_through_the_cli(tmp_path):
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=0,
                          challenge_window=0, forced_window=2, rotation_delay=5)
        home = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0).home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        admin_file = tmp_path / "admin.key"  # not in the home: the node never holds it
        admin_file.write_text("0x" + ADMIN_KEY.hex())
        os.chmod(admin_file, 0o600)
        admin, new = to_hex(address_of(ADMIN_KEY)), to_hex(address_of(NEW_KEY))
        anvil.rpc("anvil_setBalance", [admin, hex(10**20)])
        deployed = cli_deploy(home, "--admin", admin)
        assert deployed.returncode == 0, deployed.stderr
        shown = roles(home)
        assert (shown["admin"], shown["sequencer"], shown["pending"]) == (
            admin, to_hex(address_of(SEQUENCER_KEY)), None)
        assert shown["home_key_posts"] and shown["rotation_delay"] == 5

        # The sequencer's key (the default) is no admin: refused by the contract.
        out = flavum("l1", "rotate-sequencer", "--to", new, home=home)
        assert out.returncode == 1 and "only the admin rotates the sequencer" in out.stderr
        out = flavum("l1", "rotate-sequencer", "--to", new, "--admin-key", str(admin_file),
                     "--json", home=home)
        assert out.returncode == 0, out.stderr
        pending = json.loads(out.stdout)["pending"]
        assert pending["sequencer"] == new and not pending["due"]
        text = flavum("l1", "roles", home=home).stdout
        assert "PENDING" in text and "users who would rather leave can withdraw" in text
        early = flavum("l1", "rotate-sequencer", "--activate", home=home)
        assert early.returncode == 1 and "the rotation delay is not over" in early.stderr

        anvil.rpc("anvil_mine", [hex(5)])
        out = flavum("l1", "rotate-sequencer", "--activate", "--json", home=home)
        assert out.returncode == 0, out.stderr
        shown = json.loads(out.stdout)
        assert (shown["sequencer"], shown["pending"]) == (new, None)
        assert not shown["home_key_posts"]
        assert "Traceback" not in early.stderr + out.stderr
    finally:
        anvil.stop()

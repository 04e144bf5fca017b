"""A two-node Ray cluster on this machine, loopback only, for the RayExecutor tests (``ray`` marker).

Ray's own test helper (``ray.cluster_utils.Cluster``) runs a head raylet and a second raylet, each with
a custom resource naming it (``head``, ``node2``) so a test can place a worker on either. Pitfalls
handled here (see the scale design notes): Ray 2.60 turns token auth on once a token exists, so every
process shares a token file in the test's temp folder (never ``~/.ray``); Ray advertises the routable
address even when given 127.0.0.1 unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``; workers import this
checkout's ``thrifty`` through PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("ray") is None:
    collect_ignore_glob = ["test_*.py"]  # thrifty[ray] not installed: nothing here can run
else:
    # Ray reads these when it is imported, so they are set before anything imports it.
    _TMP = tempfile.mkdtemp(prefix="tr-")  # short: Ray's socket paths must stay under 108 characters
    (Path(_TMP) / "auth_token").write_text(secrets.token_hex(32))
    (Path(_TMP) / "ray").mkdir()  # Ray writes its address file there (a fresh machine has no /tmp/ray)
    os.environ.update(
        {
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(Path(_TMP) / "auth_token"),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_TMPDIR": _TMP,  # Ray's address file and sessions go here, never a shared /tmp/ray
        }
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    import ray
    from ray.cluster_utils import Cluster

    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved) if p)  # workers import this checkout
    made = None
    try:
        made = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "resources": {"head": 1}, "include_dashboard": False, "temp_dir": _TMP},
        )
        made.add_node(num_cpus=1, resources={"node2": 1})
        made.wait_for_nodes()
        ray.init(address=made.address, log_to_driver=False)
        yield made
    finally:
        ray.shutdown()
        if made is not None:
            made.shutdown()
        shutil.rmtree(_TMP, ignore_errors=True)
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved

"""Teardown after a run that was killed half-way: what the start left running or mounted is
found and removed, and the host is as before. Runs before the node the other tests use."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.realnode.conftest import WORKDIR, hack, host_leftovers
from tests.support.cluster import REPO, Cluster


def test_a_start_killed_half_way_is_torn_down_completely(cluster: Cluster) -> None:
    assert hack("realnode-down.sh").returncode == 0
    start = subprocess.Popen(
        [str(REPO / "hack" / "realnode-up.sh")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    # Killed once the kubelet was launched: containerd and the kubelet run, nothing waits.
    while not (WORKDIR / "kubelet.pid").exists() and time.monotonic() < deadline:
        if start.poll() is not None:
            break
        time.sleep(0.05)
    assert (WORKDIR / "kubelet.pid").exists(), "the start never reached the kubelet"
    start.send_signal(signal.SIGKILL)
    start.wait(timeout=10)
    assert host_leftovers(), "the killed start left nothing to clean up: the test tests nothing"

    down = hack("realnode-down.sh")
    assert down.returncode == 0, down.stderr
    assert host_leftovers() == []

"""A subscribed client in a process of its own, at real-time priority when it can be: the harness's
clock for the arrival of node.state events (`python3 event_follower.py SOCKET LAB`).

Why its own process: a thread of the harness waits for Python's GIL behind the sampler and the
console watcher (up to the 5 ms switch interval) and for a core behind hundreds of QEMUs, so its
arrival times were the harness's delays as much as labvirtd's. Here the only thread blocks in
recv(); at SCHED_FIFO it runs as soon as labvirtd's bytes land, and it stamps each event with
time.monotonic() (CLOCK_MONOTONIC: comparable with the parent's and bpftrace's times).

Prints "subscribed PRIORITY" once the subscription is in place (PRIORITY: "fifo" or "normal"),
then one line per node.state event: "MONOTONIC_SECONDS NODE STATE". Exits when labvirtd closes the
connection."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from density_lib import rpc  # noqa: E402


class Follower:
    """The parent's side: runs this file as a child, fills states[node] (the latest state) and
    times[node][state] (the first arrival of each state), and sets `settled` once `n` nodes are
    ready or failed. `priority` says whether the child got SCHED_FIFO."""

    def __init__(self, sock, lab, n):
        self.states, self.times, self.settled = {}, {}, threading.Event()
        self.n = n
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), sock, lab],
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline().split()
        if not first or first[0] != "subscribed":
            self.proc.kill()
            raise RuntimeError("the event follower did not subscribe")
        self.priority = first[1]
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            t, node, state = line.split()
            self.states[node] = state
            self.times.setdefault(node, {}).setdefault(state, float(t))
            if sum(1 for s in self.states.values() if s in ("ready", "failed")) >= self.n:
                self.settled.set()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    sock, lab = sys.argv[1], sys.argv[2]
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        priority = "fifo"
    except (OSError, AttributeError):
        priority = "normal"
    c = rpc.Client(sock)
    c.call("events.subscribe", {"labs": [lab], "types": ["node.state"]})
    print("subscribed", priority, flush=True)
    try:
        while True:
            line = c.file.readline()
            now = time.monotonic()
            if not line:
                return
            msg = json.loads(line)
            if "id" in msg:
                continue
            p = msg.get("params", {})
            node, state = p.get("node"), p.get("data", {}).get("state")
            if node and state:
                print(f"{now:.6f} {node} {state}", flush=True)
    except (OSError, ValueError, rpc.RpcError):
        return


if __name__ == "__main__":
    main()

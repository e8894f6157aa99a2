"""Samples labvirtd and the host once a second while a density run goes on (a thread): labvirtd's
CPU, RSS and fds, host MemAvailable, KSM, admission's queue (host.info), nodes ready, and every
fifth second the RSS of this lab's QEMUs."""
import threading
import time

from . import procfs, rpc


class Sampler:
    def __init__(self, pid, socket_path, domain_prefix, t0, states):
        """`states` is the live {node: state} the event thread keeps; `t0` the deploy's time."""
        self.pid = pid
        self.client = rpc.Client(socket_path, timeout=30)
        self.domain_prefix = domain_prefix
        self.t0 = t0
        self.states = states
        self.samples = []
        self.mem0 = procfs.meminfo_kib()["MemAvailable"]
        self.ksm0 = procfs.ksm().get("pages_sharing", 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.client.close()

    def _run(self):
        last_cpu, last_t = procfs.cpu_seconds(self.pid), time.monotonic()
        qemu = []
        tick = 0
        while not self._stop.wait(1.0):
            now = time.monotonic()
            cpu = procfs.cpu_seconds(self.pid)
            if cpu is None:
                return
            s = {"t": round(now - self.t0, 3),
                 "cpu_pct": round((cpu - last_cpu) / (now - last_t) * 100, 2),
                 "rss_kib": procfs.status_kib(self.pid) or 0,
                 "fds": procfs.fd_count(self.pid) or 0}
            last_cpu, last_t = cpu, now
            mem = procfs.meminfo_kib()
            s["mem_available_mib"] = mem["MemAvailable"] // 1024
            states = list(self.states.values())
            s["ready"] = states.count("ready")
            running = sum(1 for x in states if x in ("booting", "ready"))
            s["running"] = running
            try:
                info = self.client.call("host.info")
                s["queued"] = len(info.get("admission", {}).get("queue", []))
            except (rpc.RpcError, OSError):
                s["queued"] = -1
            ksm = procfs.ksm()
            s["ksm_pages_sharing"] = ksm.get("pages_sharing", 0)
            s["ksm_saved_mib"] = round((s["ksm_pages_sharing"] - self.ksm0) * procfs.PAGE / 2**20, 1)
            if running:
                s["host_mib_per_vm"] = round((self.mem0 - mem["MemAvailable"]) / 1024 / running, 2)
            if tick % 5 == 0:
                qemu = procfs.qemu_rss(procfs.qemu_processes(self.domain_prefix))
            if qemu:
                s["qemus"] = len(qemu)
                s["qemu_rss_mib_per_vm"] = round(sum(q[1] for q in qemu) / len(qemu) / 1024, 2)
                s["qemu_ksm_merging_pages"] = sum(q[2] for q in qemu)
                s["qemu_threads"] = sum(q[3] for q in qemu)
            tick += 1
            self.samples.append(s)

"""The baseline a user would otherwise run: the same nodes' domains (labvirtctl render-domain: the
XML labvirtd defines, with the same memory), defined beforehand (untimed), then `virsh start` 8 at
a time until each console log shows one of its kind's readiness patterns (what labvirt matches).
No OVS ports and no links: the script does less than labvirtd, which plugs every NIC."""
import concurrent.futures
import os
import re
import subprocess
import time

from . import console_watch

PARALLEL = 8


def define(ctl, lab, nodes, images, state_dir, memory_mb):
    """Defines every node of `nodes` ([(name, kind)]); returns [(domain, node, kind)]."""
    out = []
    for name, kind in nodes:
        xml = subprocess.run(
            [ctl, "render-domain", "--kind", kind, "--node", name, "--lab", lab, "--nics", "2",
             "--image", os.path.join(images, kind + ".qcow2"), "--state-dir", state_dir,
             "--domain-type", "qemu"], check=True, capture_output=True, text=True).stdout
        xml = re.sub(r"<memory unit='MiB'>\d+</memory>", f"<memory unit='MiB'>{memory_mb}</memory>",
                     xml)
        domain = re.search(r"<name>([^<]+)</name>", xml).group(1)
        overlay = re.search(r"<source file='([^']+\.qcow2)'/>", xml).group(1)
        os.makedirs(os.path.dirname(overlay), exist_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                        os.path.join(images, kind + ".qcow2"), overlay], check=True)
        path = os.path.join(state_dir, "virsh-" + name + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        subprocess.run(["virsh", "-q", "define", path], check=True, stdout=subprocess.DEVNULL)
        os.unlink(path)
        out.append((domain, name, kind))
    return out


def run(domains, log_dir, success, timeout_s):
    """Starts `domains` 8 at a time and waits for every console log to show readiness. Returns
    {"seconds", "ready", "ready_at": {node: s}} (seconds from the first start)."""
    os.makedirs(log_dir, exist_ok=True)
    patterns = {node: console_watch.compile_patterns(success[kind]) for _, node, kind in domains}
    watch = console_watch.ConsoleWatch(log_dir, patterns)
    t0 = time.monotonic()
    starter = subprocess.Popen(["xargs", "-P", str(PARALLEL), "-n", "1", "virsh", "-q", "start"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    starter.communicate("\n".join(d for d, _, _ in domains) + "\n")
    while len(watch.ready_at) < len(domains) and time.monotonic() - t0 < timeout_s:
        time.sleep(0.05)
    took = time.monotonic() - t0
    watch.stop()
    return {"seconds": took if len(watch.ready_at) == len(domains) else None,
            "ready": len(watch.ready_at), "start_rc": starter.returncode,
            "ready_at": {n: t - t0 for n, t in watch.ready_at.items()}}


def remove(domains, lab, state_dir):
    # 8 at a time, as the baseline started them (one by one took 10 minutes for 300 VMs).
    def drop(domain):
        subprocess.run(["virsh", "-q", "destroy", domain], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run(["virsh", "-q", "undefine", "--nvram", domain], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(drop, [d for d, _, _ in domains]))
    for sub in ("disks", "logs"):
        subprocess.run(["rm", "-rf", os.path.join(state_dir, sub, lab)])

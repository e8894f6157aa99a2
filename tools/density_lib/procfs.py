"""Reads of /proc and /sys/kernel/mm/ksm for the density sampler. Linux only; all cheap except
qemu_rss(), which walks /proc (call it every few seconds, not every sample)."""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    """utime + stime of `pid` in seconds (threads included), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def status_kib(pid, key="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def meminfo_kib():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, rest = line.split(":", 1)
            out[key] = int(rest.split()[0])
    return out


def ksm():
    """/sys/kernel/mm/ksm counters (empty without CONFIG_KSM)."""
    out = {}
    base = "/sys/kernel/mm/ksm"
    for key in ("run", "pages_shared", "pages_sharing", "pages_unshared", "full_scans",
                "pages_to_scan", "sleep_millisecs", "general_profit"):
        try:
            with open(os.path.join(base, key)) as f:
                out[key] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def set_ksm_run(value):
    with open("/sys/kernel/mm/ksm/run", "w") as f:
        f.write(str(value))


def qemu_processes(domain_prefix):
    """PIDs of QEMUs whose domain name (-name guest=NAME) starts with `domain_prefix`."""
    pids = []
    needle = ("guest=" + domain_prefix).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"qemu-system" in cmd.split(b"\0", 1)[0] and needle in cmd:
            pids.append(int(entry))
    return pids


def qemu_rss(pids):
    """[(pid, VmRSS KiB, ksm merging pages, threads)] of `pids` still alive."""
    out = []
    for pid in pids:
        rss = status_kib(pid)
        if rss is None:
            continue
        merging = 0
        try:
            with open(f"/proc/{pid}/ksm_merging_pages") as f:
                merging = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        out.append((pid, rss, merging, status_kib(pid, "Threads") or 0))
    return out

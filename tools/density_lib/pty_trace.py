"""The exact instant each node's readiness text reaches the host, and how long labvirtd's loop
thread waits for a core: a bpftrace session beside a density run (`tools/density --trace`).

Why: the console log (virtlogd's file, console_watch.py) is a late and noisy reference at full
density. virtlogd, and the harness reading its file, wait for a core behind hundreds of QEMUs like
labvirtd does, so "event minus log text" mixes three processes' scheduling delays (it ranged from
-115 to +30 ms at N=300). The first moment the text exists on the host is QEMU's write() of its
last byte into the PTY: the emulated UART hands each byte to the chardev as the guest writes it,
one write(2) of count 1 from the vCPU thread (thread name "CPU N/TCG" or "CPU N/KVM"). A syscall
tracepoint timestamps it in the kernel (CLOCK_MONOTONIC, the clock of time.monotonic()), with no
process of ours on the path.

How: per QEMU process, the last 8 bytes it wrote one at a time (counted when write(2) returns 1),
as a shift register in a BPF map;
a line "T PID NSECS I" each time they end with tail I (the literal end of a readiness pattern,
e.g. "login:"). Which occurrence of the tail completes the pattern is found after the run from the
console log (match_instants). A tail written in a write of more than one byte is missed (the UART
writes one at a time); each node's occurrence count and the trace's are in the report to check.

Also traced, as histograms in microseconds with their maximum: the run-queue wait of one thread
(labvirtd's loop), wake-up (or preemption) to running; and the wait of the kernel's PTY work
(flush_to_ldisc, which carries QEMU's bytes to the reader) from queued to running. And what ran
on the CPUs while the loop waited, by kind of thread (ran_while_waiting): whether it waited behind
guests, libvirtd, QEMU's own threads or something else on the host.

Needs bpftrace (Debian's package) and tracefs; tracepoints only (no kprobes needed)."""
import collections
import os
import re
import shutil
import signal
import subprocess
import threading

# A run of plain characters or escaped punctuation up to the end (`\w` and the like are classes).
LITERAL = re.compile(rb"(?:\\[^A-Za-z0-9]|[A-Za-z0-9 _%:@!,;=/-])+$")


def literal_tail(pattern, most=8):
    """The last `most` bytes that every match of regex `pattern` ends with, or None when it ends
    in a class or group (those patterns are not traced)."""
    raw = pattern.encode()
    m = LITERAL.search(raw)
    if not m:
        return None
    run = m.group(0)
    if m.start() > 0 and raw[m.start() - 1:m.start()] == b"\\":
        run = run[1:]  # the run began inside an escape such as \w: that character is a class
    text = re.sub(rb"\\(.)", rb"\1", run)
    return text[-most:] if text else None


def mount_tracefs():
    """bpftrace reads tracepoints' formats from tracefs, which a host without systemd may not have
    mounted (this one did not)."""
    for fs, where in (("tracefs", "/sys/kernel/tracing"), ("debugfs", "/sys/kernel/debug")):
        if os.path.isdir(where) and not os.listdir(where):
            subprocess.run(["mount", "-t", fs, "nodev", where], stderr=subprocess.DEVNULL)


def available():
    return shutil.which("bpftrace") is not None and os.path.isdir("/sys/kernel/tracing/events")


def _script(tails, loop_tid):
    # The byte is read on entry and counted on a successful exit only: a write that failed (a
    # full PTY: QEMU's UART retries it) must not shift the register twice.
    lines = ['BEGIN { printf("READY\\n"); }',
             'tracepoint:syscalls:sys_enter_write /args->count == 1 && '
             'strncmp(comm, "CPU ", 4) == 0/ {',
             '  @pend[tid] = (uint64)(*(uint8 *)uptr(args->buf)) | 0x100; }',
             'tracepoint:syscalls:sys_exit_write /@pend[tid] != 0/ {',
             '  $b = @pend[tid] & 0xff; delete(@pend[tid]);',
             '  if (args->ret != 1) { return; }',
             '  @r[pid] = (@r[pid] << 8) | $b;',
             '  $r = @r[pid];']
    for i, t in enumerate(tails):
        value = int.from_bytes(t, "big")
        mask = (1 << (8 * len(t))) - 1
        lines.append(f'  if (($r & {mask:#x}) == {value:#x}) {{ printf("T %d %llu {i}\\n", pid, '
                     'nsecs); }')
    lines.append("}")
    if loop_tid:
        # One block for every switch, in this order: what ran on this CPU while the loop waited
        # is added up (by thread name, from when it got the CPU or the loop woke, whichever is
        # later) before the loop's own switch ends the wait.
        lines += [f"tracepoint:sched:sched_wakeup /args->pid == {loop_tid}/ {{ @w = nsecs; }}",
                  "tracepoint:sched:sched_switch {",
                  "  if (@w != 0) { $s = @since[cpu]; if ($s < @w) { $s = @w; }",
                  "    @ran_ns[args->prev_comm] = sum(nsecs - $s); }",
                  "  @since[cpu] = nsecs;",
                  f"  if (args->prev_pid == {loop_tid} && (args->prev_state & 0xff) == 0) {{",
                  "    @w = nsecs; }",
                  f"  if (args->next_pid == {loop_tid} && @w != 0) {{",
                  "    $d = (nsecs - @w) / 1000; @runq_us = hist($d); @runq_max_us = max($d);",
                  "    @runq_n = count(); @w = 0; } }"]
    # A PTY write reaches its reader through a kernel worker (flush_to_ldisc on an unbound
    # workqueue, nice 0): its wait from queued to running is on every console byte's way.
    lines += ['tracepoint:workqueue:workqueue_queue_work /args->function == '
              'kaddr("flush_to_ldisc")/ { @q[args->work] = nsecs; }',
              # Queued again on another CPU while this run started: not this run's wait.
              "tracepoint:workqueue:workqueue_execute_start /@q[args->work] != 0/ {",
              "  $t = @q[args->work]; delete(@q[args->work]);",
              "  if (nsecs < $t) { return; }",
              "  $d = (nsecs - $t) / 1000;",
              "  @ldisc_us = hist($d); @ldisc_max_us = max($d); @ldisc_n = count(); }"]
    lines.append("END { clear(@r); clear(@w); clear(@pend); clear(@q); clear(@since); }")
    return "\n".join(lines) + "\n"


class PtyTrace:
    """Starts bpftrace; hits[pid] is a list of (monotonic seconds, tail index), in order."""

    def __init__(self, tails, loop_tid=None):
        self.tails = tails
        self.hits = {}
        self.lost = 0
        self.summary = []
        self.detail = {}  # node: which occurrence of which tail, and how many the trace saw
        self._ready = threading.Event()
        self.proc = subprocess.Popen(["bpftrace", "-e", _script(tails, loop_tid)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60):
            self.proc.kill()
            raise RuntimeError("bpftrace did not attach its probes in 60 s")

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("T "):
                _, pid, ns, i = line.split()
                self.hits.setdefault(int(pid), []).append((int(ns) / 1e9, int(i)))
            elif line.startswith("READY"):
                self._ready.set()
            elif line.startswith("Lost "):
                self.lost += int(line.split()[1])
            else:
                self.summary.append(line.rstrip("\n"))
        self._ready.set()

    def stop(self):
        """Ends the session; returns {'labvirtd_loop_runq': ..., 'pty_ldisc_work': ...}
        (wait_summary each)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reader.join(10)
        maps = maps_of(self.summary)
        return {"labvirtd_loop_runq": wait_summary(maps, "runq"),
                "ran_while_loop_waited": ran_while_waiting(maps.get("ran_ns") or {}),
                "pty_ldisc_work": wait_summary(maps, "ldisc")}


def maps_of(lines):
    """bpftrace's printout of its maps at exit: {name: int} for scalars, {name: [[low, high,
    count], ...]} for histograms, {name: {key: int}} for maps keyed by a string (name without
    the @)."""
    maps, current = {}, None
    scale = {None: 1, "K": 1024, "M": 1024 * 1024}
    for line in lines:
        m = re.match(r"@(\w+)\[(.*)\]:\s*(-?\d+)\s*$", line)
        if m:
            maps.setdefault(m.group(1), {})[m.group(2)] = int(m.group(3))
            current = None
            continue
        m = re.match(r"@(\w+):\s*(-?\d+)?\s*$", line)
        if m:
            current = m.group(1)
            maps[current] = int(m.group(2)) if m.group(2) is not None else []
            continue
        if current is None or not isinstance(maps[current], list):
            continue
        m = re.match(r"\[(\d+)(K|M)?, (\d+)(K|M)?\)\s+(\d+)", line)
        if m:
            maps[current].append([int(m.group(1)) * scale[m.group(2)],
                                  int(m.group(3)) * scale[m.group(4)], int(m.group(5))])
            continue
        m = re.match(r"\[(\d+)\]\s+(\d+)", line)
        if m:
            maps[current].append([int(m.group(1)), int(m.group(1)) + 1, int(m.group(2))])
    return maps


def task_group(comm):
    """The kind of thread a name is, for ran_while_waiting: a guest's vCPU, a kernel worker, the
    idle task, or the name itself (libvirtd's rpc-libvirtd, QEMU's "IO mon_iothread", virtlogd)."""
    if re.match(r"CPU \d+/(TCG|KVM)$", comm):
        return "guest vCPU"
    if comm.startswith("kworker/"):
        return "kworker"
    if comm.startswith("swapper/"):
        return "idle"
    return comm


def ran_while_waiting(ran_ns, top=12):
    """[[group, ms, %]] of what held the CPUs while labvirtd's loop thread waited for one,
    largest first, from @ran_ns ({thread name: ns}); the rest summed as "other"."""
    groups = collections.Counter()
    for comm, ns in ran_ns.items():
        groups[task_group(comm)] += ns
    total = sum(groups.values())
    if not total:
        return []
    ranked = groups.most_common()
    head, rest = ranked[:top], sum(ns for _, ns in ranked[top:])
    if rest:
        head.append(("other", rest))
    return [[g, round(ns / 1e6, 1), round(100 * ns / total, 1)] for g, ns in head]


def wait_summary(maps, name):
    """{'waits', 'max_us', 'hist_us', 'p99_us_at_most', 'share_at_least_us': {1024: %, 4096: %}}
    of histogram @NAME_us with @NAME_n and @NAME_max_us."""
    hist = maps.get(name + "_us") or []
    out = {"waits": maps.get(name + "_n"), "max_us": maps.get(name + "_max_us"), "hist_us": hist}
    total = sum(c for _, _, c in hist)
    if total:
        acc = 0
        for _, hi, c in hist:
            acc += c
            if acc >= 0.99 * total:
                out["p99_us_at_most"] = hi
                break
        out["share_at_least_us"] = {
            us: round(100 * sum(c for lo, _, c in hist if lo >= us) / total, 2)
            for us in (1024, 4096)}
    return out


def qemu_pids(domain_prefix):
    """{domain name: QEMU pid} for running domains whose name starts with `domain_prefix`."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        for a in argv:
            m = re.match(rb"guest=([^,]+)", a)
            if m and m.group(1).decode().startswith(domain_prefix):
                out[m.group(1).decode()] = int(pid)
    return out


def match_instants(trace, pid_of, log_of, patterns_of, strip):
    """{node: monotonic seconds at which QEMU wrote the byte completing its readiness text}.

    pid_of[node]: its QEMU pid; log_of[node]: its console log path; patterns_of[node]: compiled
    success patterns (console_watch.compile_patterns, the same order as the tails were made);
    strip: the log's escape stripper. The earliest-ending match wins, as in labvirtd; a node is
    left out when that pattern has no traced tail or the trace lacks that occurrence."""
    out = {}
    for node, pid in pid_of.items():
        try:
            with open(log_of[node], "rb") as f:
                text = strip(f.read())
        except OSError:
            continue
        best = None
        for p in patterns_of[node]:
            m = p.search(text)
            if m and (best is None or m.end() < best[0]):
                best = (m.end(), p)
        if best is None:
            continue
        tail = literal_tail(best[1].pattern.decode())
        if tail is None or tail not in trace.tails or text[best[0] - len(tail):best[0]] != tail:
            continue
        index = trace.tails.index(tail)
        nth = text[:best[0]].count(tail)  # the completing occurrence, counted from the first
        seen = [t for t, i in trace.hits.get(pid, []) if i == index]
        trace.detail[node] = {"tail": tail.decode(), "nth": nth, "hits": len(seen)}
        if len(seen) >= nth:
            out[node] = seen[nth - 1]
    return out

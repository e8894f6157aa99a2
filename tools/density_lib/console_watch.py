"""Timestamps each node's readiness text as it lands in its console log (virtlogd's file, written
beside labvirtd's own PTY read), with inotify: the reference point for the readiness-event latency.

What it measures: the monotonic time at which this process read the bytes that complete one of the
kind's readiness patterns from the log file, woken by IN_MODIFY. The console log has no per-byte
timestamps; this is the earliest point at which an observer outside labvirtd can see the text.
QEMU writes the same bytes to the PTY (labvirtd's reader) and to virtlogd (the file), so the two
paths race: a latency near zero or below zero means labvirtd saw the text no later than the file
did."""
import ctypes
import os
import re
import select
import struct
import threading
import time

IN_MODIFY = 0x00000002
IN_CREATE = 0x00000100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[@-_]")
TAIL = 1024  # stripped bytes kept between reads: longer than any readiness text
MAX_LINE = 65536  # how far back the kept bytes may reach for the start of their line


class ConsoleWatch:
    """Watches `log_dir` (NODE.console.log files) in a thread. `patterns` maps node name to the
    compiled success patterns of its kind. ready_at[node] is the match time (time.monotonic()),
    ready_wall[node] the same instant on the wall clock (to compare with labvirtd's own log)."""

    def __init__(self, log_dir, patterns):
        self.log_dir = log_dir
        self.patterns = patterns
        self.ready_at = {}
        self.ready_wall = {}
        self._tail = {}
        self._offset = {}
        self._stop = threading.Event()
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        os.makedirs(log_dir, exist_ok=True)
        if libc.inotify_add_watch(self._fd, log_dir.encode(), IN_MODIFY | IN_CREATE) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + log_dir)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        os.close(self._fd)

    def _run(self):
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(200):
                continue
            try:
                buf = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            names = set()
            at = 0
            while at + 16 <= len(buf):
                _, _, _, length = struct.unpack_from("iIII", buf, at)
                name = buf[at + 16:at + 16 + length].rstrip(b"\0").decode()
                at += 16 + length
                if name.endswith(".console.log"):
                    names.add(name[:-len(".console.log")])
            for node in names:
                self._scan(node)

    def _scan(self, node):
        if node in self.ready_at or node not in self.patterns:
            return
        path = os.path.join(self.log_dir, node + ".console.log")
        try:
            with open(path, "rb") as f:
                f.seek(self._offset.get(node, 0))
                data = f.read()
        except OSError:
            return
        # Stamped once the bytes are read, not when the batch of inotify events was: with hundreds
        # of logs to read after one wake-up, a stamp from before the reads predated text written
        # while this thread read other files.
        now, wall = time.monotonic(), time.time()
        self._offset[node] = self._offset.get(node, 0) + len(data)
        text = self._tail.get(node, b"") + strip(data)
        for p in self.patterns[node]:
            if p.search(text):
                self.ready_at[node] = now
                self.ready_wall[node] = wall
                return
        self._tail[node] = carry(text)


def carry(text):
    """What of `text` (stripped bytes with no match yet) the next read is searched after: at least
    its last TAIL bytes, from the newline before them, or all of `text` when it has no such newline
    (its start is the stream's or an earlier cut's, each a place where `^` may match). A cut in
    mid-line made `^` (a line's start or the stream's, as labvirtd's patterns mean it) match at the
    cut: "0x0>" in an iosv banner, 2.4 KB before the prompt, made the harness time some nodes'
    readiness up to 230 ms early. A line longer than MAX_LINE is cut with a NUL before the kept
    bytes, where `^` can then match nothing a pattern starts with."""
    if len(text) <= TAIL:
        return text
    cut = text.rfind(b"\n", max(0, len(text) - MAX_LINE), len(text) - TAIL + 1)
    if cut >= 0:
        return text[cut:]
    return text if len(text) <= MAX_LINE else b"\0" + text[-TAIL:]


def strip(data):
    """`data` without its terminal escape sequences (readiness patterns match stripped text)."""
    return ANSI.sub(b"", data)


def compile_patterns(success):
    """Hyperscan readiness patterns as Python regexes, with labvirtd's flags
    (engine/readiness/readiness_patterns.cc: caseless, multiline; on stripped text)."""
    return [re.compile(p.encode(), re.IGNORECASE | re.ASCII | re.MULTILINE) for p in success]

"""Unit tests of tools/density_lib's pure parts: pty_trace's pattern tails, its reading of
bpftrace's map printout, and its matching of traced writes to readiness matches; console_watch's
bytes kept between reads and its stamps (no bpftrace, no VMs). Run by meson
(tests/unit/meson.build) as `python3 THIS_FILE`."""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tools"))
import time  # noqa: E402

from density_lib import console_watch, pty_trace  # noqa: E402


class LiteralTailTest(unittest.TestCase):
    def test_catalog_patterns(self):
        self.assertEqual(pty_trace.literal_tail("Press RETURN to get started"), b" started")
        self.assertEqual(pty_trace.literal_tail(r"initial configuration dialog\?"), b" dialog?")
        self.assertEqual(pty_trace.literal_tail(r"(^|[\r\n])([\w.-]+ )?login:"), b"login:")
        self.assertEqual(pty_trace.literal_tail(r"(^|[\r\n])[\w.-]+ login:"), b" login:")
        self.assertEqual(pty_trace.literal_tail("%CVAC-4-CONFIG_DONE"), b"FIG_DONE")

    def test_patterns_without_a_literal_end_are_not_traced(self):
        self.assertIsNone(pty_trace.literal_tail(r"[\w.-]{1,63}(\([\w./-]+\))?[>#]"))
        self.assertIsNone(pty_trace.literal_tail("login:$"))
        self.assertIsNone(pty_trace.literal_tail("prompt>?"))

    def test_a_class_escape_is_not_a_literal(self):
        self.assertEqual(pty_trace.literal_tail(r"\wlogin:"), b"login:")


class MapsTest(unittest.TestCase):
    PRINTOUT = """
@ldisc_max_us: 9886
@ldisc_n: 3220
@ldisc_us:
[0]                  100 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1]                   10 |@@@@@                                               |
[2, 4)                 5 |@@                                                  |
[1K, 2K)               3 |@                                                   |
[4K, 8K)               2 |                                                    |

@runq_n: 0

@ran_ns[CPU 0/TCG]: 3000000
@ran_ns[CPU 1/TCG]: 1000000
@ran_ns[rpc-libvirtd]: 2500000
@ran_ns[kworker/u4:2]: 500000
@ran_ns[IO mon_iothread]: 1500000
@ran_ns[swapper/1]: 1500000
""".splitlines()

    def test_scalars_and_histograms_by_name(self):
        maps = pty_trace.maps_of(self.PRINTOUT)
        self.assertEqual(maps["ldisc_max_us"], 9886)
        self.assertEqual(maps["ldisc_n"], 3220)
        self.assertEqual(maps["ldisc_us"], [[0, 1, 100], [1, 2, 10], [2, 4, 5], [1024, 2048, 3],
                                            [4096, 8192, 2]])
        self.assertEqual(maps["runq_n"], 0)

    def test_keyed_maps(self):
        maps = pty_trace.maps_of(self.PRINTOUT)
        self.assertEqual(maps["ran_ns"]["IO mon_iothread"], 1500000)
        self.assertEqual(len(maps["ran_ns"]), 6)
        self.assertEqual(maps["runq_n"], 0)  # a keyed map after a scalar leaves the scalar alone

    def test_ran_while_waiting_groups_threads_by_kind(self):
        ran = pty_trace.ran_while_waiting(pty_trace.maps_of(self.PRINTOUT)["ran_ns"])
        self.assertEqual(ran[0], ["guest vCPU", 4.0, 40.0])  # two vCPU threads, one group
        self.assertEqual(ran[1], ["rpc-libvirtd", 2.5, 25.0])
        self.assertEqual({g for g, _, _ in ran},
                         {"guest vCPU", "rpc-libvirtd", "IO mon_iothread", "idle", "kworker"})
        self.assertEqual(pty_trace.ran_while_waiting({}), [])
        self.assertEqual(pty_trace.ran_while_waiting({"a": 1, "b": 1, "c": 2}, top=1),
                         [["c", 0.0, 50.0], ["other", 0.0, 50.0]])

    def test_wait_summary(self):
        w = pty_trace.wait_summary(pty_trace.maps_of(self.PRINTOUT), "ldisc")
        self.assertEqual(w["waits"], 3220)
        self.assertEqual(w["max_us"], 9886)
        self.assertEqual(w["p99_us_at_most"], 8192)  # 118 of 120 lie below 2048: p99 is the last
        self.assertEqual(w["share_at_least_us"], {1024: 4.17, 4096: 1.67})
        self.assertEqual(pty_trace.wait_summary({}, "runq")["hist_us"], [])


class FakeTrace:
    def __init__(self, tails, hits):
        self.tails, self.hits, self.detail = tails, hits, {}


class MatchInstantsTest(unittest.TestCase):
    def test_the_occurrence_completing_the_earliest_match(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "n0.console.log")
            with open(log, "wb") as f:
                # "login:" first appears mid-line (no match), then after a line break (the match).
                f.write(b"[ 1.0] Aboot login: disabled\r\n\x1b[1mhost login: ")
            trace = FakeTrace([b"login:"], {42: [(1.0, 0), (2.0, 0), (3.0, 0)]})
            pats = [re.compile(rb"(^|[\r\n])([\w.-]+ )?login:", re.I)]
            strip = lambda b: re.sub(rb"\x1b\[[0-9;]*m", b"", b)  # noqa: E731
            out = pty_trace.match_instants(trace, {"n0": 42}, {"n0": log}, {"n0": pats}, strip)
            self.assertEqual(out, {"n0": 2.0})
            self.assertEqual(trace.detail["n0"], {"tail": "login:", "nth": 2, "hits": 3})

    def test_a_node_is_left_out_when_the_trace_lacks_the_occurrence(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "n0.console.log")
            with open(log, "wb") as f:
                f.write(b"x\r\nhost login: ")
            trace = FakeTrace([b"login:"], {42: []})
            pats = [re.compile(rb"(^|[\r\n])([\w.-]+ )?login:")]
            out = pty_trace.match_instants(trace, {"n0": 42}, {"n0": log}, {"n0": pats},
                                           lambda b: b)
            self.assertEqual(out, {})
            out = pty_trace.match_instants(trace, {"n0": 42}, {"n0": d + "/missing"},
                                           {"n0": pats}, lambda b: b)
            self.assertEqual(out, {})


IOSV_PROMPT = r"(^|[\r\n])[\w.-]{1,63}(\([\w./-]+\))?[>#]"  # the catalog's cisco_iosv prompt


class ConsoleWatchTest(unittest.TestCase):
    def test_kept_bytes_start_at_a_line_so_caret_does_not_match_mid_line(self):
        pats = console_watch.compile_patterns([IOSV_PROMPT])
        # A banner line with "0x0>" in it, then enough bytes that a plain cut would land on "0x0>".
        banner = b"Processor board ID 9 with 0x0> 460033K/62464K bytes\n"
        pad = console_watch.TAIL - len(b"0x0> 460033K/62464K bytes\n")
        text = b"IOSv boot\n" + banner + b"x" * pad + b"\n"
        self.assertFalse(any(p.search(text) for p in pats))
        plain = text[text.index(b"0x0>"):]  # what a cut anywhere may keep
        self.assertGreater(len(plain), console_watch.TAIL)
        self.assertTrue(any(p.search(plain) for p in pats), "the old fault, reproduced")
        kept = console_watch.carry(text)
        self.assertTrue(kept.startswith(b"\nProcessor"), kept[:12])
        self.assertGreaterEqual(len(kept), console_watch.TAIL)
        self.assertFalse(any(p.search(kept + b"more output") for p in pats))
        self.assertTrue(any(p.search(kept + b"Router>") for p in pats))

    def test_a_line_longer_than_max_line_is_kept_behind_a_nul(self):
        text = b"r1>" + b"y" * (console_watch.MAX_LINE + 10)
        kept = console_watch.carry(text)
        self.assertEqual(kept, b"\0" + text[-console_watch.TAIL:])
        pats = console_watch.compile_patterns([IOSV_PROMPT])
        self.assertFalse(any(p.search(b"\0r1>") for p in pats))
        self.assertEqual(console_watch.carry(b"short"), b"short")
        # No newline yet, but the bytes start the stream: all of them are kept, "^" still theirs.
        first = b"r1>" + b"z" * console_watch.TAIL
        self.assertEqual(console_watch.carry(first), first)

    def test_a_node_is_stamped_no_earlier_than_its_text_was_written(self):
        with tempfile.TemporaryDirectory() as d:
            watch = console_watch.ConsoleWatch(d, {"n0": console_watch.compile_patterns(
                [r"(^|[\r\n])([\w.-]+ )?login:"])})
            try:
                path = os.path.join(d, "n0.console.log")
                with open(path, "wb") as f:
                    f.write(b"booting\r\n")
                time.sleep(0.3)
                self.assertNotIn("n0", watch.ready_at)
                before = time.monotonic()
                with open(path, "ab") as f:
                    f.write(b"host login: ")
                deadline = time.monotonic() + 5
                while "n0" not in watch.ready_at and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.assertIn("n0", watch.ready_at)
                self.assertGreaterEqual(watch.ready_at["n0"], before)
            finally:
                watch.stop()


class ScriptTest(unittest.TestCase):
    def test_one_comparison_per_tail_with_its_mask(self):
        script = pty_trace._script([b"login:", b"FIG_DONE"], 123)
        self.assertIn("== 0x6c6f67696e3a) { printf(\"T %d %llu 0\\n\"", script)
        self.assertIn("(($r & 0xffffffffffffffff) == 0x4649475f444f4e45)", script)
        self.assertIn("args->pid == 123", script)
        self.assertIn('kaddr("flush_to_ldisc")', script)


if __name__ == "__main__":
    unittest.main()

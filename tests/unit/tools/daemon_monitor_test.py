"""Unit tests of tools/daemon-monitor with small shell children in place of a daemon: a crash is
restarted and logged, an exit, SIGKILL or SIGTERM ends the monitor with the child's status, a
signal to the monitor reaches the child, and a crash loop is given up. Run by meson
(tests/unit/meson.build) as `python3 THIS_FILE`."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tools/daemon-monitor")


def run_monitor(script, timeout=60):
    """Runs the monitor over `sh -c script`; returns (exit status, stderr)."""
    proc = subprocess.run([MONITOR, "child", "--", "sh", "-c", script],
                          stderr=subprocess.PIPE, text=True, timeout=timeout)
    return proc.returncode, proc.stderr


class DaemonMonitorTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.count = os.path.join(self.dir.name, "starts")

    def tearDown(self):
        self.dir.cleanup()

    def starts(self):
        with open(self.count) as f:
            return len(f.read().split())

    def test_crash_is_restarted_then_a_clean_exit_ends_it(self):
        # The first start segfaults, the second exits 0.
        script = (f'echo x >> {self.count}; '
                  f'[ "$(wc -l < {self.count})" -eq 1 ] && kill -SEGV $$; exit 0')
        status, err = run_monitor(script)
        self.assertEqual(status, 0)
        self.assertEqual(self.starts(), 2)
        self.assertRegex(err, r"daemon-monitor: child crashed \(signal 11, .*\); restart 1")

    def test_abort_is_a_crash_too(self):
        script = (f'echo x >> {self.count}; '
                  f'[ "$(wc -l < {self.count})" -eq 1 ] && kill -ABRT $$; exit 3')
        status, err = run_monitor(script)
        self.assertEqual(status, 3)  # the second start's own status
        self.assertEqual(self.starts(), 2)
        self.assertIn("signal 6", err)

    def test_sigkill_and_errors_end_it_without_a_restart(self):
        for script, want in ((f"echo x >> {self.count}; kill -KILL $$", 128 + 9),
                             (f"echo x >> {self.count}; exit 7", 7)):
            with self.subTest(script=script):
                os.makedirs(self.dir.name, exist_ok=True)
                open(self.count, "w").close()
                status, err = run_monitor(script)
                self.assertEqual(status, want)
                self.assertEqual(self.starts(), 1)
                self.assertNotIn("crashed", err)

    def test_crash_loop_is_given_up(self):
        status, err = run_monitor(f"echo x >> {self.count}; kill -SEGV $$")
        self.assertEqual(status, 128 + 11)
        self.assertEqual(self.starts(), 6)  # the first start and five restarts
        self.assertIn("more than 5 times", err)

    def test_sigterm_to_the_monitor_reaches_the_child(self):
        ready = os.path.join(self.dir.name, "ready")
        got = os.path.join(self.dir.name, "got-term")
        script = f"trap 'echo term > {got}; exit 0' TERM; touch {ready}; while :; do sleep 0.1; done"
        proc = subprocess.Popen([MONITOR, "child", "--", "sh", "-c", script],
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(ready), "child never started")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        with open(got) as f:
            self.assertEqual(f.read().strip(), "term")

    def test_usage_error(self):
        proc = subprocess.run([MONITOR, "child", "sh"], stderr=subprocess.PIPE, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage", proc.stderr)


if __name__ == "__main__":
    unittest.main()

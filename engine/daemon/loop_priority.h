// The event loop thread's scheduling priority.
//
// labvirtd's loop is light (a fraction of a percent of a core with hundreds of VMs ready) but
// latency-bound: a console byte, a readiness match and its event wait for it. On a host whose
// cores are busy with guests it waited for a core behind them (tools/density --trace measured its
// run-queue waits: docs/benchmarks.md "Readiness latency at density").
//
// Two levers, both on this one thread:
// - A real-time policy (SCHED_FIFO; --realtime 1, the lowest, is the default; 0 turns it off):
//   a woken loop runs before every thread of the fair scheduler, guests, libvirtd and QEMU's own
//   threads included. At 300 TCG guests booting on 2 cores beside two busy loops it cut the loop's
//   run-queue wait p99 from <= 8 ms to <= 64 us and the readiness event's p99 after QEMU's PTY
//   write from 26.8 ms (nice -10) to 7.2 ms; on the quiet host 10.0 and 7.1 ms to 5.5 and 5.5 ms.
//   Its cost is bounded: the loop's work per wake-up is short and it sleeps in between (0.1-1 % of
//   a core at that density), and the kernel's real-time throttling (sched_rt_runtime_us, 95 % per
//   period by default) and, from Linux 6.12, the fair server keep a runaway loop from starving a
//   core. At nice -10 the loop already outweighed the guests' whole cgroup about 9:1 when busy, so
//   what the policy changes is how soon it runs after a wake-up, not how much it may use. Set with
//   SCHED_RESET_ON_FORK (sched(7)): threads and processes it starts later (dnsmasq, io_uring's
//   workers should the kernel start any) run under the fair scheduler at nice 0 or above.
// - A nice value (default -10), the lever when the real-time policy is off or refused, as ovs-ctl
//   starts ovs-vswitchd and ovsdb-server at nice -10 for the same reason.
// The real-time loop once lost a link's rate limit after its node restarted: it shaped the new tap
// before ovs-vswitchd opened it, and ovs-vswitchd deleted the root qdisc it found. labvirt's ports
// now carry a linux-noop QoS, which stops ovs-vswitchd touching their qdiscs at all
// (ovs/ovs_switch.h), so nothing waits on how soon the loop runs. A short fair-scheduler slice
// (Linux 6.12's sched_runtime) was measured too and is not set: libvirt puts every guest in a
// cgroup of its own under machine/, so the loop already outweighs the guests as a whole and the
// slice changed nothing (docs/benchmarks.md, same section). Worker threads (blocking libvirt calls)
// keep the policy and nice value they started with.
#ifndef LABVIRT_ENGINE_DAEMON_LOOP_PRIORITY_H_
#define LABVIRT_ENGINE_DAEMON_LOOP_PRIORITY_H_

namespace labvirt::engine {

struct LoopPriority {
  int nice = -10;    // -20..19; 0: leave the thread's nice value as started
  int realtime = 1;  // SCHED_FIFO priority 1..99; 0: stay in the fair scheduler
};

// Applies `priority` to the calling thread: its nice value (unless 0), then its real-time policy
// (unless 0). Logs each change, or a warning (and carries on with what it has) when the kernel
// refuses one: not root, no CAP_SYS_NICE, or a cgroup without real-time runtime.
void SetLoopThreadPriority(LoopPriority priority);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_DAEMON_LOOP_PRIORITY_H_

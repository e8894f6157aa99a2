// The event loop thread's scheduling priority.
//
// labvirtd's loop is light (a fraction of a percent of a core with hundreds of VMs ready) but
// latency-bound: a console byte, a readiness match and its event wait for it. On a host whose
// cores are busy with guests it waited for a core behind them (tools/density --trace measured its
// run-queue waits: docs/benchmarks.md "Readiness latency at density"). A lower nice value for this
// one thread gives it a larger share and, under the kernel's fair scheduler, an earlier deadline
// on each wake-up, so it runs sooner; ovs-ctl starts ovs-vswitchd and ovsdb-server at nice -10
// for the same reason.
// A short fair-scheduler slice (Linux 6.12's sched_runtime) was measured too and is not set:
// libvirt puts every guest in a cgroup of its own under machine/, so the loop already outweighs the
// guests as a whole and the slice changed nothing (docs/benchmarks.md, same section). Worker
// threads (blocking libvirt calls) keep the nice value they started with.
#ifndef LABVIRT_ENGINE_DAEMON_LOOP_PRIORITY_H_
#define LABVIRT_ENGINE_DAEMON_LOOP_PRIORITY_H_

namespace labvirt::engine {

// Sets the calling thread's nice value to `nice` (-20..19) unless it is 0; threads and processes
// it starts afterwards inherit it. Logs the change, or a warning (and carries on) when the
// kernel refuses it (not root, no CAP_SYS_NICE).
void SetLoopThreadNice(int nice);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_DAEMON_LOOP_PRIORITY_H_

"""The report's PNG plots, drawn by gnuplot (Debian's gnuplot-nox; tools/setup-host installs it)
from data files written beside them. Every title names the accelerator (TCG or KVM)."""
import os
import shutil
import subprocess


def _write(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join(str(v) for v in row) + "\n")


def draw(report, out_dir):
    """Writes density-*.png into `out_dir`; returns their paths ([] without gnuplot)."""
    if shutil.which("gnuplot") is None:
        return []
    os.makedirs(out_dir, exist_ok=True)
    n = report["config"]["nodes"]
    accel = report["host"]["accelerator"]
    tag = f"N={n}, {accel}"
    script = ["set terminal pngcairo size 900,540 noenhanced" if _has_cairo() else
              "set terminal png size 900,540 noenhanced", "set grid", "set key left top"]

    # Boot-time CDF per kind: admitted (starting) to ready.
    kinds = sorted(report["boot_seconds_by_kind"])
    plot = []
    for k in kinds:
        xs = sorted(report["boot_seconds_by_kind"][k])
        path = os.path.join(out_dir, f"density-boot-{k}.dat")
        _write(path, [(x, (i + 1) / len(xs)) for i, x in enumerate(xs)])
        plot.append(f"'{path}' using 1:2 with steps title '{k} ({len(xs)})'")
    if report.get("baseline") and report["baseline"].get("ready_at"):
        xs = sorted(report["baseline"]["ready_at"].values())
        path = os.path.join(out_dir, "density-boot-virsh.dat")
        _write(path, [(x, (i + 1) / len(xs)) for i, x in enumerate(xs)])
    script += [f"set output '{out_dir}/density-boot-cdf.png'",
               f"set title 'Boot time per kind, admitted to ready ({tag})'",
               "set xlabel 'seconds'", "set ylabel 'fraction of nodes'", "set yrange [0:1]",
               "plot " + ", ".join(plot)]

    samples = report["samples"]
    path = os.path.join(out_dir, "density-samples.dat")
    _write(path, [(s["t"], s.get("cpu_pct", 0), s["rss_kib"] / 1024, s["ready"], s["queued"],
                   s.get("host_mib_per_vm", 0), s.get("qemu_rss_mib_per_vm", 0),
                   s.get("ksm_saved_mib", 0), s["fds"]) for s in samples])
    script += ["set autoscale y", "set xlabel 'seconds since lab.deploy'",
               f"set output '{out_dir}/density-labvirtd.png'",
               f"set title 'labvirtd CPU and RSS over time ({tag})'",
               "set ylabel '% of one core'", "set y2label 'RSS MiB'", "set y2tics",
               f"plot '{path}' using 1:2 with lines title 'CPU %', "
               f"'{path}' using 1:3 axes x1y2 with lines title 'RSS MiB'",
               "unset y2tics", "unset y2label",
               "set y2tics", "set y2label 'KSM saved MiB'",
               f"set output '{out_dir}/density-memory.png'",
               f"set title 'Host memory per running VM ({tag})'", "set ylabel 'MiB per VM'",
               f"plot '{path}' using 1:($6>0?$6:1/0) with lines title 'host (MemAvailable drop / VMs)', "
               f"'{path}' using 1:($7>0?$7:1/0) with lines title 'QEMU VmRSS mean', "
               f"'{path}' using 1:8 axes x1y2 with lines title 'KSM saved MiB (right)'",
               "unset y2tics", "unset y2label",
               f"set output '{out_dir}/density-queue.png'",
               f"set title 'Admission queue and ready nodes ({tag})'", "set ylabel 'nodes'",
               f"plot '{path}' using 1:5 with lines title 'queued', "
               f"'{path}' using 1:4 with lines title 'ready'"]
    gp = os.path.join(out_dir, "density.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    subprocess.run(["gnuplot", gp], check=True)
    return [os.path.join(out_dir, f"density-{p}.png")
            for p in ("boot-cdf", "labvirtd", "memory", "queue")]


def _has_cairo():
    out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (out.stdout + out.stderr)

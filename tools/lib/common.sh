# shellcheck shell=bash
# Shared helpers for labvirt's shell tools (tools/setup-host, tools/test, tools/demo).
# Source it; do not execute it. Callers set `set -euo pipefail` themselves.

# Repository root (this file lives in <root>/tools/lib/).
LABVIRT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LABVIRT_ROOT

# Settings shared by all tools; each can be overridden from the environment.
: "${LABVIRT_BRIDGE:=arch-ovs}"
: "${LABVIRT_RUN_DIR:=/run/labvirt}"
: "${LABVIRT_GROUP:=labvirt}"
: "${LABVIRT_SOCKET:=${LABVIRT_RUN_DIR}/labvirtd.sock}"
: "${LIBVIRT_URI:=qemu:///system}"
# stdout/stderr of the host daemons tools/setup-host starts by hand (and tools/daemon-monitor's
# crash lines, which tools/test reports).
export DAEMON_LOG=/var/log/labvirt-setup-host.log

# One line per thing done or found. The prefix says what kind of line it is.
say_ok() { printf 'ok: %s\n' "$*"; }
say_did() { printf '%s: %s\n' "$1" "${*:2}"; }  # e.g. say_did started ovsdb-server
say_warn() { printf 'warn: %s\n' "$*"; }
say_err() { printf 'error: %s\n' "$*" >&2; }
die() {
  say_err "$*"
  exit 1
}

is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

# True when PID 1 is systemd (not merely "systemd is installed").
have_systemd() {
  [[ -d /run/systemd/system ]] && [[ "$(cat /proc/1/comm 2>/dev/null)" == systemd ]]
}


# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.1 s until it succeeds.
# Returns 1 (without printing) on timeout; the caller says what failed.
wait_until() {
  local secs=$1 _desc=$2
  shift 2
  local deadline=$((SECONDS + secs))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    ((SECONDS >= deadline)) && return 1
    sleep 0.1
  done
}

# pid_alive PIDFILE: true if the pidfile names a live (non-zombie) process.
pid_alive() {
  local f=$1 pid
  [[ -r $f ]] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [[ -n $pid ]] && proc_alive "$pid"
}

# proc_alive PID: true if PID exists and is not a zombie. (On hosts whose PID 1 is not a real init,
# orphaned zombies can linger for a while, and `kill -0`/pgrep still "see" them.)
proc_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# Dpkg architecture name (amd64, arm64, ...).
host_arch() { dpkg --print-architecture 2>/dev/null || uname -m; }

# Print a section header (tools/test, tools/demo).
section() { printf '\n==> %s\n' "$*"; }

# What QEMU runs VMs on here, as labvirtd and the tests decide it (KVM when /dev/kvm opens read-write, else
# TCG), with the kernel module behind /dev/kvm: timings and failures differ between them (wave 1
# passed under TCG and failed on its first KVM host), so every run says which one it had.
accelerator() {
  if [[ -c /dev/kvm ]] && (: <>/dev/kvm) 2>/dev/null; then
    local m backend=""
    for m in kvm_intel kvm_amd kvm_pvm; do
      [[ -d /sys/module/$m ]] && backend+="${backend:+,}$m"
    done
    local nested=""
    grep -qw hypervisor /proc/cpuinfo && nested=", inside a VM"
    echo "KVM (/dev/kvm via ${backend:-unknown module}$nested)"
  else
    echo "TCG (no usable /dev/kvm)"
  fi
}

// Admission's Prometheus gauges (engine/lab/admission.h: RenderAdmissionMetrics).
#include <tuple>

#include "engine/lab/admission.h"
#include "engine/lab/metrics.h"

namespace labvirt::engine {

void RenderAdmissionMetrics(const Admission& a, std::string& out) {
  AppendHeader(out, "labvirt_admission_queue_length", "gauge", "Nodes waiting for a boot slot");
  AppendSample(out, "labvirt_admission_queue_length", "", static_cast<double>(a.Queue().size()));
  AppendHeader(out, "labvirt_admission_queued", "gauge",
               "Nodes waiting for a boot slot, by the gate that holds each back");
  for (const auto& [reason, count] : a.QueuedByReason()) {
    AppendSample(out, "labvirt_admission_queued", Label("reason", reason), count);
  }
  AppendHeader(out, "labvirt_admission_in_use", "gauge", "Weight of starts in flight");
  AppendSample(out, "labvirt_admission_in_use", "", a.in_use());
  AppendHeader(out, "labvirt_admission_budget", "gauge",
               "Ceiling of weighted starts (labvirt_admission_ceiling's old name)");
  AppendSample(out, "labvirt_admission_budget", "", a.limits().ceiling);
  AppendHeader(out, "labvirt_admission_ceiling", "gauge", "Ceiling of weighted starts");
  AppendSample(out, "labvirt_admission_ceiling", "", a.limits().ceiling);
  AppendHeader(out, "labvirt_admission_memory_in_flight_bytes", "gauge",
               "RAM of admitted nodes not yet ready");
  AppendSample(out, "labvirt_admission_memory_in_flight_bytes", "",
               static_cast<double>(a.mem_in_flight_mib()) * 1048576);
  const HostReadings& r = a.readings();
  AppendHeader(out, "labvirt_host_pressure_percent", "gauge",
               "PSI 'some' stall share: avg10, and recent (since the previous reading; gated on)");
  for (const auto& [resource, avg10, recent] :
       {std::tuple{"cpu", r.cpu_avg10, r.cpu_recent}, {"memory", r.mem_avg10, r.mem_recent}}) {
    std::string labels = Label("resource", resource) + ",";
    AppendSample(out, "labvirt_host_pressure_percent", labels + Label("window", "avg10"), avg10);
    AppendSample(out, "labvirt_host_pressure_percent", labels + Label("window", "recent"), recent);
  }
  AppendHeader(out, "labvirt_host_psi", "gauge", "1 if the kernel reports PSI (pressure gates on)");
  AppendSample(out, "labvirt_host_psi", "", r.psi ? 1 : 0);
  AppendHeader(out, "labvirt_host_memory_available_bytes", "gauge", "MemAvailable, last reading");
  AppendSample(out, "labvirt_host_memory_available_bytes", "",
               static_cast<double>(r.mem_available_mib) * 1048576);
  AppendHeader(out, "labvirt_libvirt_calls_queued", "gauge",
               "libvirt calls waiting for a worker thread, last reading");
  AppendSample(out, "labvirt_libvirt_calls_queued", "", static_cast<double>(r.libvirt_queued));
}

}  // namespace labvirt::engine

#include "engine/lab/admission.h"

#include <algorithm>
#include <thread>

#include "reactor/base/json_writer.h"

namespace labvirt::engine {
namespace {

constexpr double kEpsilon = 1e-9;

// Every reason QueuedReasonJson can give, for gauges that stay present at 0.
constexpr const char* kReasons[] = {"ceiling",         "libvirt_queue", "memory",
                                    "memory_pressure", "cpu_pressure",  "order"};

std::string PressureJson(const char* reason, double value, double limit) {
  JsonWriter w;
  w.BeginObject().Key("reason").String(reason).Key("value").Double(value);
  w.Key("limit").Double(limit).EndObject();
  return w.Take();
}

}  // namespace

Admission::Admission(const AdmissionLimits& limits) : limits_(limits) {
  if (limits_.ceiling <= 0) limits_.ceiling = DefaultBootCeiling();
}

double DefaultBootCeiling() {
  unsigned cores = std::thread::hardware_concurrency();
  return 4.0 * (cores == 0 ? 2.0 : static_cast<double>(cores));
}

bool Admission::Request(const std::string& key, double weight, int64_t mem_mib,
                        std::function<void()> on_admitted) {
  if (IsQueued(key) || IsAdmitted(key)) return false;
  queue_.push_back(
      {key, std::max(weight, 0.0), std::max<int64_t>(mem_mib, 0), std::move(on_admitted)});
  AdmitWhatFits();
  return true;
}

void Admission::Booting(const std::string& key) {
  if (limits_.slot != BootSlot::kBooting) return;
  auto it = admitted_.find(key);
  if (it == admitted_.end() || !it->second.holds_weight) return;
  it->second.holds_weight = false;
  in_use_ -= it->second.weight;
  if (in_use_ < kEpsilon) in_use_ = 0;
  AdmitWhatFits();
}

void Admission::Readmit(const std::string& key, double weight, int64_t mem_mib) {
  auto it = admitted_.find(key);
  if (it == admitted_.end()) {
    if (auto q = std::find_if(queue_.begin(), queue_.end(),
                              [&](const Waiter& w) { return w.key == key; });
        q != queue_.end()) {
      queue_.erase(q);
    }
    return Admit(key, std::max(weight, 0.0), std::max<int64_t>(mem_mib, 0));
  }
  if (it->second.holds_weight) return;
  it->second.holds_weight = true;
  in_use_ += it->second.weight;
}

void Admission::Release(const std::string& key) {
  if (auto it = admitted_.find(key); it != admitted_.end()) {
    if (it->second.holds_weight) in_use_ -= it->second.weight;
    if (in_use_ < kEpsilon) in_use_ = 0;
    mem_in_flight_ -= it->second.mem_mib;
    admitted_.erase(it);
  } else {
    auto q =
        std::find_if(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
    if (q == queue_.end()) return;
    queue_.erase(q);
  }
  AdmitWhatFits();
}

void Admission::SetReadings(const HostReadings& readings) {
  readings_ = readings;
  AdmitWhatFits();
}

Status Admission::FitsHost(int64_t mem_mib, int64_t held_mib) const {
  if (!readings_.sampled || !readings_.meminfo) return Status::Ok();
  int64_t room = readings_.mem_total_mib - limits_.mem_reserve_mib;
  if (mem_mib + held_mib <= room) return Status::Ok();
  std::string held = held_mib > 0 ? " beside the " + std::to_string(held_mib) +
                                        " MiB of nodes already running or queued"
                                  : "";
  return FailedPrecondition("the nodes to start need " + std::to_string(mem_mib) + " MiB of RAM" +
                            held + "; this host has " + std::to_string(readings_.mem_total_mib) +
                            " MiB (MemTotal) - " + std::to_string(limits_.mem_reserve_mib) +
                            " MiB (--mem-reserve) = " + std::to_string(room) +
                            " MiB; deploy with force: true to queue them anyway")
      .WithField("nodes")
      .WithSummary("lab does not fit this host's memory");
}

bool Admission::IsQueued(const std::string& key) const {
  return std::any_of(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
}

std::vector<std::string> Admission::Queue() const {
  std::vector<std::string> keys;
  for (const auto& w : queue_) keys.push_back(w.key);
  return keys;
}

void Admission::set_ceiling(double ceiling) {
  limits_.ceiling = ceiling;
  AdmitWhatFits();
}

Admission::Verdict Admission::Check(const Waiter& w) const {
  // A node heavier than the ceiling boots when no weight is held, alone.
  if (in_use_ + w.weight > limits_.ceiling + kEpsilon && in_use_ > 0) {
    JsonWriter j;
    j.BeginObject().Key("reason").String("ceiling").Key("in_use").Double(in_use_);
    j.Key("weight").Double(w.weight).Key("ceiling").Double(limits_.ceiling).EndObject();
    return {"ceiling", j.Take()};
  }
  if (!readings_.sampled) return {};
  if (static_cast<int64_t>(readings_.libvirt_queued) > limits_.libvirt_queue) {
    return {"libvirt_queue",
            PressureJson("libvirt_queue", static_cast<double>(readings_.libvirt_queued),
                         limits_.libvirt_queue)};
  }
  if (readings_.meminfo) {
    int64_t need = w.mem_mib + limits_.mem_reserve_mib;
    int64_t available = readings_.mem_available_mib - mem_in_flight_;
    if (available < need) {
      JsonWriter j;
      j.BeginObject().Key("reason").String("memory").Key("need_mib").Int(need);
      j.Key("available_mib").Int(available).Key("node_mib").Int(w.mem_mib);
      j.Key("reserve_mib").Int(limits_.mem_reserve_mib);
      j.Key("in_flight_mib").Int(mem_in_flight_).EndObject();
      return {"memory", j.Take()};
    }
  }
  if (readings_.psi && limits_.mem_pressure < 100 && readings_.mem_recent >= limits_.mem_pressure) {
    return {"memory_pressure",
            PressureJson("memory_pressure", readings_.mem_recent, limits_.mem_pressure)};
  }
  if (readings_.psi && limits_.cpu_pressure < 100 && readings_.cpu_recent >= limits_.cpu_pressure) {
    return {"cpu_pressure",
            PressureJson("cpu_pressure", readings_.cpu_recent, limits_.cpu_pressure)};
  }
  return {};
}

std::string Admission::QueuedReasonJson(const std::string& key) const {
  int ahead = 0;
  for (const auto& w : queue_) {
    if (w.key != key) {
      ++ahead;
      continue;
    }
    Verdict v = Check(w);
    if (v.reason != nullptr) return v.json;
    // Passes every gate now but waits its turn (first come, first served), or for the next pass.
    JsonWriter j;
    j.BeginObject().Key("reason").String("order").Key("ahead").Int(ahead).EndObject();
    return j.Take();
  }
  return "null";
}

std::map<std::string, int> Admission::QueuedByReason() const {
  std::map<std::string, int> counts;
  for (const char* r : kReasons) counts[r] = 0;
  for (const auto& w : queue_) {
    Verdict v = Check(w);
    ++counts[v.reason != nullptr ? v.reason : "order"];
  }
  return counts;
}

std::string Admission::ToJson() const {
  JsonWriter w;
  w.BeginObject().Key("budget").Double(limits_.ceiling).Key("ceiling").Double(limits_.ceiling);
  w.Key("in_use").Double(in_use_).Key("mem_in_flight_mib").Int(mem_in_flight_);
  w.Key("slot").String(limits_.slot == BootSlot::kBooting ? "booting" : "ready");
  w.Key("queue").BeginArray();
  for (const auto& q : queue_) w.String(q.key);
  w.EndArray().Key("limits").BeginObject();
  w.Key("mem_reserve_mib").Int(limits_.mem_reserve_mib);
  w.Key("mem_pressure").Double(limits_.mem_pressure);
  w.Key("cpu_pressure").Double(limits_.cpu_pressure);
  w.Key("libvirt_queue").Int(limits_.libvirt_queue).EndObject();
  w.Key("readings").Raw(readings_.ToJson()).EndObject();
  return w.Take();
}

void Admission::Admit(const std::string& key, double weight, int64_t mem_mib) {
  in_use_ += weight;
  mem_in_flight_ += mem_mib;
  admitted_[key] = Held{weight, mem_mib, true};
}

void Admission::AdmitWhatFits() {
  // Callbacks may call back into Request/Release; take each waiter off the queue before calling.
  while (!queue_.empty()) {
    Waiter& head = queue_.front();
    // Nothing in flight: nothing of ours will free room or ease the pressure, so wait no more.
    if (!admitted_.empty() && Check(head).reason != nullptr) return;
    Waiter w = std::move(head);
    queue_.pop_front();
    Admit(w.key, w.weight, w.mem_mib);
    if (w.on_admitted) w.on_admitted();
  }
}

}  // namespace labvirt::engine

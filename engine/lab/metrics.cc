#include "engine/lab/metrics.h"

#include <charconv>

namespace labvirt::engine {
namespace {

std::string Number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

}  // namespace

std::vector<double> Histogram::DefaultBounds() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size(), 0) {}

void Histogram::Observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++buckets_[i];
      break;
    }
  }
  sum_ += value;
  ++count_;
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i];
    AppendSample(out, std::string(name) + "_bucket", prefix + Label("le", Number(bounds_[i])),
                 static_cast<double>(cumulative));
  }
  AppendSample(out, std::string(name) + "_bucket", prefix + Label("le", "+Inf"),
               static_cast<double>(count_));
  AppendSample(out, std::string(name) + "_sum", labels, sum_);
  AppendSample(out, std::string(name) + "_count", labels, static_cast<double>(count_));
}

void LatencyTable::Render(std::string& out, std::string_view name, std::string_view help) const {
  AppendHeader(out, name, "histogram", help);
  for (const auto& [key, h] : by_key_) h.Render(out, name, Label(label_, key));
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(Number(value)).append("\n");
}

std::string Label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace labvirt::engine

#include "providers/state_paths.h"

namespace labvirt::providers {

std::string OverlayRoot(const std::string& state_dir) { return state_dir + "/overlays"; }

std::string LogRoot(const std::string& state_dir) { return state_dir + "/logs"; }

std::string OverlayPath(const std::string& state_dir, const std::string& lab,
                        const std::string& node) {
  return OverlayRoot(state_dir) + "/" + lab + "/" + node + kOverlaySuffix;
}

std::string LogDir(const std::string& state_dir, const std::string& lab) {
  return LogRoot(state_dir) + "/" + lab;
}

std::string ConsoleLogPath(const std::string& state_dir, const std::string& lab,
                           const std::string& node, int port) {
  return LogDir(state_dir, lab) + "/" + node + ".console" +
         (port == 0 ? "" : std::to_string(port)) + ".log";
}

std::string NvramDir(const std::string& state_dir, const std::string& lab) {
  return state_dir + "/nvram/" + lab;
}

std::string NvramPath(const std::string& state_dir, const std::string& lab,
                      const std::string& node) {
  return NvramDir(state_dir, lab) + "/" + node + "_VARS.fd";
}

std::string Day0Root(const std::string& state_dir) { return state_dir + "/day0"; }

std::string Day0Dir(const std::string& state_dir, const std::string& lab) {
  return Day0Root(state_dir) + "/" + lab;
}

std::string Day0TextPath(const std::string& state_dir, const std::string& lab,
                         const std::string& node) {
  return Day0Dir(state_dir, lab) + "/" + node + ".cfg";
}

std::string Day0MediumPath(const std::string& state_dir, const std::string& lab,
                           const std::string& node, const std::string& method) {
  return Day0Dir(state_dir, lab) + "/" + node + (method == "iso" ? ".iso" : ".img");
}

std::string SavedConfigDir(const std::string& state_dir, const std::string& lab,
                           const std::string& node) {
  return state_dir + "/configs/" + lab + "/" + node;
}

}  // namespace labvirt::providers

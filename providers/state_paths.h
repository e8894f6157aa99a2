// Where labvirt keeps a node's files under its state directory: made here and nowhere else, so
// that the deploy, the domain XML, reconcile, wipe and cleanup agree on every name.
//
//   STATE/overlays/LAB/NODE.qcow2            the node's disk (an overlay on its base image)
//   STATE/logs/LAB/NODE.console.log          serial port 0 (virtlogd); port N: NODE.consoleN.log
//   STATE/nvram/LAB/NODE_VARS.fd             UEFI variables of stateful-UEFI kinds
//   STATE/day0/LAB/NODE.cfg                  the node's startup config as the client gave it
//   STATE/day0/LAB/NODE.img | NODE.iso       its day-0 medium (FAT disk | ISO), made from .cfg
//   STATE/configs/LAB/NODE/VERSION.cfg       running configs saved from the device (kept after
//   STATE/configs/LAB/NODE/latest            a destroy: a re-deploy starts from them); `latest`
//                                            is a symlink to the newest version
#ifndef LABVIRT_PROVIDERS_STATE_PATHS_H_
#define LABVIRT_PROVIDERS_STATE_PATHS_H_

#include <string>

namespace labvirt::providers {

// The directories that hold one sub-directory per lab (cleanup walks them).
std::string OverlayRoot(const std::string& state_dir);
std::string LogRoot(const std::string& state_dir);

std::string OverlayPath(const std::string& state_dir, const std::string& lab,
                        const std::string& node);
// The directory of a lab's console logs.
std::string LogDir(const std::string& state_dir, const std::string& lab);
// The log of serial port `port` (0: the console labvirt watches).
std::string ConsoleLogPath(const std::string& state_dir, const std::string& lab,
                           const std::string& node, int port = 0);
// The directory of a lab's UEFI variable stores; a node's store there (libvirt copies the kind's
// template to it when the file is missing at start).
std::string NvramDir(const std::string& state_dir, const std::string& lab);
std::string NvramPath(const std::string& state_dir, const std::string& lab,
                      const std::string& node);

// The directory that holds one sub-directory of day-0 files per lab (cleanup walks it).
std::string Day0Root(const std::string& state_dir);
// The directory of a lab's day-0 files, a node's config text there, and its medium (`method`
// "fat" → .img, "iso" → .iso).
std::string Day0Dir(const std::string& state_dir, const std::string& lab);
std::string Day0TextPath(const std::string& state_dir, const std::string& lab,
                         const std::string& node);
std::string Day0MediumPath(const std::string& state_dir, const std::string& lab,
                           const std::string& node, const std::string& method);

// The directory of a node's saved running configs (providers/saved_configs.h).
std::string SavedConfigDir(const std::string& state_dir, const std::string& lab,
                           const std::string& node);

// The suffixes of the files above that cleanup may sweep.
inline constexpr const char* kOverlaySuffix = ".qcow2";
inline constexpr const char* kConsoleLogSuffix = ".console.log";
inline constexpr const char* kDay0Suffixes[] = {".cfg", ".img", ".iso"};

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_STATE_PATHS_H_

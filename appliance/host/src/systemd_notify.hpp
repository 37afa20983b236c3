// systemd's service notification protocol (sd_notify(3)), without libsystemd: one datagram to the
// AF_UNIX socket named in $NOTIFY_SOCKET. The protocol is documented as stable for exactly this
// use. With no $NOTIFY_SOCKET (not run by systemd with Type=notify) every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace palaver::host {

/// Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..."; several
/// separated by newlines). Never blocks (MSG_DONTWAIT); false when not sent. Thread-safe.
bool SdNotify(const std::string& state);

/// How often to send WATCHDOG=1: half of $WATCHDOG_USEC, when systemd asked this process (or any,
/// if $WATCHDOG_PID is unset) for keep-alive pings; nullopt otherwise.
std::optional<std::chrono::milliseconds> WatchdogPingInterval();

}  // namespace palaver::host

// The local CA: a per-installation certificate authority in `<state_dir>/tls/` that issues the
// server certificate when no certificate files are configured.
//
// Everything here is plain blocking file I/O plus OpenSSL, with the current time passed in, so
// the whole life cycle (first run, reuse, renewal, hostname change) is testable without a clock.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "identity.hpp"
#include "palaver/sdk/files.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::tls {

using TimePoint = std::chrono::system_clock::time_point;

// Lifetime of a newly created local CA.
inline constexpr std::chrono::days kCaLifetime{3650};
// A new certificate is valid from this long before `now`, to tolerate clock skew between
// the server and its clients.
inline constexpr std::chrono::hours kBackdate{1};

// The four files of a local CA directory. Value type.
struct LocalCaFiles {
  std::filesystem::path dir;
  std::filesystem::path ca_certificate;      // ca.crt, 0644: what users trust
  std::filesystem::path ca_key;              // ca.key, 0600
  std::filesystem::path server_certificate;  // server.crt, 0644: leaf + CA
  std::filesystem::path server_key;          // server.key, 0600

  static LocalCaFiles In(const std::filesystem::path& dir);
};

struct LocalCaOptions {
  // The server's names; the first one is the leaf's CN. `localhost`, 127.0.0.1 and ::1 are always
  // added. Entries may be DNS names, `*.`-wildcards or IP addresses.
  std::vector<std::string> hostnames;
  std::chrono::seconds leaf_lifetime{std::chrono::days(180)};
};

// What EnsureLocalCa found and did. Value type.
struct LocalCaOutcome {
  std::shared_ptr<sdk::TlsIdentity> identity;  // source "local-ca"; chain = leaf + CA
  LocalCaFiles files;
  bool ca_created = false;         // a new CA was written (first run or replacement)
  std::string ca_replaced_reason;  // non-empty when an existing CA was replaced: why
  bool leaf_issued = false;        // a new server certificate was written
  std::string leaf_reason;         // why it was issued
};

// Loads the local CA in `dir` (creating `dir` with mode 0700 if needed), creating or replacing the
// CA and (re)issuing the server certificate as needed, and returns the server identity.
//
// The CA is reused when it parses, its key matches, it is still valid for a full leaf lifetime and
// its name constraints permit every name. It is replaced (ca_replaced_reason says why) when the key
// does not match, one of its two files is missing, it expires too soon or the names changed beyond
// what it permits. A ca.crt or ca.key that exists but cannot be read or parsed is an error naming
// the file: users may trust that CA, so it is never overwritten silently.
//
// The server certificate is reissued when missing, unreadable, not issued by the current CA,
// covering other names than the configured ones, not yet valid, or expiring within RenewBefore().
// Every write is atomic (temp file in `dir`, fsync, rename).
Result<LocalCaOutcome> EnsureLocalCa(const std::filesystem::path& dir, const LocalCaOptions& options,
                                     TimePoint now);

// How long before its expiry the server certificate is renewed: 30 days, or a third of the
// lifetime when that is shorter.
std::chrono::seconds RenewBefore(std::chrono::seconds leaf_lifetime);

// Building blocks of EnsureLocalCa, exposed for tests.

// A fresh ECDSA P-256 key.
Result<EvpPkeyPtr> GenerateKey();
// A self-signed CA certificate for `ca_key`, valid kCaLifetime, whose name constraints permit
// only `hostnames`, localhost and the loopback addresses.
Result<X509Ptr> IssueCaCertificate(EVP_PKEY& ca_key, const std::vector<std::string>& hostnames, TimePoint now);
// A server certificate for `leaf_key` signed by `ca`, covering `hostnames`, localhost, 127.0.0.1
// and ::1, valid from now - kBackdate for `lifetime` (capped at 397 days).
Result<X509Ptr> IssueServerCertificate(X509& ca, EVP_PKEY& ca_key, EVP_PKEY& leaf_key,
                                       const std::vector<std::string>& hostnames, TimePoint now,
                                       std::chrono::seconds lifetime);
// Checks that `leaf` chains to `ca` as a TLS server certificate, ignoring validity dates.
Status VerifyIssuedBy(X509& leaf, X509& ca);
// Shared with other modules; see palaver/sdk/files.hpp.
using sdk::WriteFileAtomically;

}  // namespace palaver::tls

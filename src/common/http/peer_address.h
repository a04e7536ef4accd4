// Which IP addresses an outgoing request made on a user's behalf may reach (SSRF defence for
// http(s) artifactUri downloads). Pure functions, no I/O; the HTTP client applies them to the
// address it actually connects to (after DNS resolution, on every redirect hop), so a host name
// that resolves to 127.0.0.1 or rebinds between lookups gains nothing.
//
// Classes (IPv4-mapped ::ffff:a.b.c.d and NAT64 64:ff9b::a.b.c.d count as their IPv4 address):
//   kForbidden  never reachable: link-local and cloud metadata (169.254.0.0/16, fe80::/10,
//               fd00:ec2::254, 100.100.100.200), multicast (224.0.0.0/4, ff00::/8) and the
//               reserved 240.0.0.0/4 (broadcast included)
//   kPrivate    reachable only when the operator allows private hosts: loopback (127.0.0.0/8,
//               ::1), "this host" (0.0.0.0/8, ::), RFC 1918 (10/8, 172.16/12, 192.168/16),
//               carrier-grade NAT (100.64.0.0/10), unique-local (fc00::/7)
//   kPublic     everything else
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::http {

enum class PeerAddressClass { kPublic, kPrivate, kForbidden };

struct PeerAddressInfo {
  PeerAddressClass address_class = PeerAddressClass::kPublic;
  std::string range;  // the matched range, e.g. "127.0.0.0/8 (loopback)"; empty for kPublic
};

// `literal` is a numeric address as inet_pton(3) reads it ("10.0.0.1", "::ffff:10.0.0.1";
// IPv6 without brackets, optionally with a "%zone"). Anything else is INVALID_ARGUMENT.
absl::StatusOr<PeerAddressInfo> ClassifyPeerAddress(std::string_view literal);

// OK when `literal` may be connected to; else PERMISSION_DENIED naming the address, its range
// and, for private ranges, the server flag that allows them (`allow_private_flag`).
absl::Status CheckPeerAddress(std::string_view literal, bool allow_private,
                              std::string_view allow_private_flag);

}  // namespace tessera::http

#include "common/http/peer_address.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "fmt/format.h"

namespace tessera::http {
namespace {

struct Range {
  std::array<uint8_t, 16> prefix;
  int bits;
  PeerAddressClass address_class;
  const char* name;
};

constexpr PeerAddressClass kForbidden = PeerAddressClass::kForbidden;
constexpr PeerAddressClass kPrivate = PeerAddressClass::kPrivate;

// Checked in order: the first match wins, so single metadata addresses come before the wider
// private ranges that contain them.
constexpr Range kIpv4Ranges[] = {
    {{169, 254}, 16, kForbidden, "169.254.0.0/16 (link-local, cloud metadata)"},
    {{100, 100, 100, 200}, 32, kForbidden, "100.100.100.200/32 (cloud metadata)"},
    {{224}, 4, kForbidden, "224.0.0.0/4 (multicast)"},
    {{240}, 4, kForbidden, "240.0.0.0/4 (reserved, broadcast)"},
    {{127}, 8, kPrivate, "127.0.0.0/8 (loopback)"},
    {{0}, 8, kPrivate, "0.0.0.0/8 (this host)"},
    {{10}, 8, kPrivate, "10.0.0.0/8 (private)"},
    {{172, 16}, 12, kPrivate, "172.16.0.0/12 (private)"},
    {{192, 168}, 16, kPrivate, "192.168.0.0/16 (private)"},
    {{100, 64}, 10, kPrivate, "100.64.0.0/10 (carrier-grade NAT)"},
};

constexpr Range kIpv6Ranges[] = {
    {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54},
     128,
     kForbidden,
     "fd00:ec2::254/128 (cloud metadata)"},
    {{0xfe, 0x80}, 10, kForbidden, "fe80::/10 (link-local)"},
    {{0xff}, 8, kForbidden, "ff00::/8 (multicast)"},
    {{}, 128, kPrivate, "::/128 (this host)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, kPrivate, "::1/128 (loopback)"},
    // The deprecated IPv4-compatible form; the kernel does not route it, nothing legitimate
    // lives there.
    {{}, 96, kForbidden, "::/96 (IPv4-compatible, deprecated)"},
    {{0xfc}, 7, kPrivate, "fc00::/7 (unique local)"},
};

bool Matches(std::span<const uint8_t> address, const Range& range) {
  int bits = range.bits;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((address[i] & mask) != (range.prefix[i] & mask)) return false;
  }
  return true;
}

template <size_t N>
PeerAddressInfo Classify(std::span<const uint8_t> address, const Range (&ranges)[N]) {
  for (const Range& r : ranges) {
    if (Matches(address, r)) return {r.address_class, r.name};
  }
  return {};
}

// An IPv6 address that carries an IPv4 one the packets end up at: IPv4-mapped (::ffff:0:0/96)
// and the NAT64 well-known prefix (64:ff9b::/96).
bool EmbedsIpv4(const std::array<uint8_t, 16>& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  return std::memcmp(a.data(), kMapped, 12) == 0 || std::memcmp(a.data(), kNat64, 12) == 0;
}

}  // namespace

absl::StatusOr<PeerAddressInfo> ClassifyPeerAddress(std::string_view literal) {
  const std::string text(literal);
  std::array<uint8_t, 4> v4{};
  if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) return Classify(v4, kIpv4Ranges);
  std::array<uint8_t, 16> v6{};
  // A zone ("fe80::1%eth0", as a resolver reports link-local peers) names an interface, not
  // another address.
  const std::string unzoned = text.substr(0, text.find('%'));
  if (inet_pton(AF_INET6, unzoned.c_str(), v6.data()) == 1) {
    if (EmbedsIpv4(v6)) return Classify(std::span<const uint8_t>(v6).subspan(12), kIpv4Ranges);
    return Classify(v6, kIpv6Ranges);
  }
  return absl::InvalidArgumentError(fmt::format("\"{}\" is not an IP address", literal));
}

absl::Status CheckPeerAddress(std::string_view literal, bool allow_private,
                              std::string_view allow_private_flag) {
  absl::StatusOr<PeerAddressInfo> info = ClassifyPeerAddress(literal);
  if (!info.ok()) return info.status();
  switch (info->address_class) {
    case PeerAddressClass::kPublic:
      return absl::OkStatus();
    case PeerAddressClass::kPrivate:
      if (allow_private) return absl::OkStatus();
      return absl::PermissionDeniedError(
          fmt::format("the address {} is in {}, which this server does not fetch from; start "
                      "the server with {} to allow private and loopback hosts",
                      literal, info->range, allow_private_flag));
    case PeerAddressClass::kForbidden:
      break;
  }
  return absl::PermissionDeniedError(fmt::format(
      "the address {} is in {}, which this server never fetches from", literal, info->range));
}

}  // namespace tessera::http

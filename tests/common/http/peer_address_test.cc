// http::ClassifyPeerAddress / CheckPeerAddress: every range the artifact fetcher refuses or
// allows only with --allow-private-artifact-hosts, both ends of each range, and the IPv6 forms
// that carry an IPv4 address.
#include "common/http/peer_address.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::http {
namespace {

PeerAddressClass ClassOf(const std::string& literal) {
  absl::StatusOr<PeerAddressInfo> info = ClassifyPeerAddress(literal);
  EXPECT_TRUE(info.ok()) << literal << ": " << info.status();
  return info.ok() ? info->address_class : PeerAddressClass::kPublic;
}

struct Case {
  const char* address;
  PeerAddressClass expected;
};

constexpr PeerAddressClass kPublic = PeerAddressClass::kPublic;
constexpr PeerAddressClass kPrivate = PeerAddressClass::kPrivate;
constexpr PeerAddressClass kForbidden = PeerAddressClass::kForbidden;

TEST(PeerAddressTest, ClassifiesEveryIpv4RangeAtBothEnds) {
  const std::vector<Case> cases = {
      {"169.254.0.0", kForbidden},
      {"169.254.169.254", kForbidden},
      {"169.254.255.255", kForbidden},
      {"169.253.255.255", kPublic},
      {"169.255.0.0", kPublic},
      {"100.100.100.200", kForbidden},
      {"224.0.0.1", kForbidden},
      {"239.255.255.255", kForbidden},
      {"240.0.0.1", kForbidden},
      {"255.255.255.255", kForbidden},
      {"127.0.0.1", kPrivate},
      {"127.255.255.254", kPrivate},
      {"128.0.0.1", kPublic},
      {"126.255.255.255", kPublic},
      {"0.0.0.0", kPrivate},
      {"0.255.255.255", kPrivate},
      {"1.0.0.0", kPublic},
      {"10.0.0.0", kPrivate},
      {"10.255.255.255", kPrivate},
      {"11.0.0.0", kPublic},
      {"9.255.255.255", kPublic},
      {"172.16.0.0", kPrivate},
      {"172.31.255.255", kPrivate},
      {"172.15.255.255", kPublic},
      {"172.32.0.0", kPublic},
      {"192.168.0.0", kPrivate},
      {"192.168.255.255", kPrivate},
      {"192.167.255.255", kPublic},
      {"192.169.0.0", kPublic},
      {"100.64.0.0", kPrivate},
      {"100.127.255.255", kPrivate},
      {"100.63.255.255", kPublic},
      {"100.128.0.0", kPublic},
      {"8.8.8.8", kPublic},
      {"93.184.216.34", kPublic},
      {"223.255.255.255", kPublic},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassOf(c.address), c.expected) << c.address;
}

TEST(PeerAddressTest, ClassifiesEveryIpv6Range) {
  const std::vector<Case> cases = {
      {"fd00:ec2::254", kForbidden},
      {"fd00:ec2::253", kPrivate},  // the rest of fc00::/7 is merely private
      {"fe80::1", kForbidden},
      {"fe80::1%eth0", kForbidden},
      {"febf:ffff::1", kForbidden},
      {"fec0::1", kPublic},  // just past fe80::/10 (deprecated site-local; not special-cased)
      {"ff02::1", kForbidden},
      {"::", kPrivate},
      {"::1", kPrivate},
      {"::2", kForbidden},  // IPv4-compatible ::/96
      {"fc00::1", kPrivate},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kPrivate},
      {"fbff::1", kPublic},
      {"2001:4860:4860::8888", kPublic},
      {"2606:4700::1111", kPublic},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassOf(c.address), c.expected) << c.address;
}

TEST(PeerAddressTest, Ipv6FormsCarryingIpv4CountAsTheirIpv4Address) {
  const std::vector<Case> cases = {
      {"::ffff:127.0.0.1", kPrivate},         {"::ffff:7f00:1", kPrivate},
      {"::ffff:169.254.169.254", kForbidden}, {"::ffff:a9fe:a9fe", kForbidden},
      {"::ffff:10.1.2.3", kPrivate},          {"::ffff:8.8.8.8", kPublic},
      {"64:ff9b::127.0.0.1", kPrivate},       {"64:ff9b::169.254.169.254", kForbidden},
      {"64:ff9b::8.8.8.8", kPublic},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassOf(c.address), c.expected) << c.address;
}

TEST(PeerAddressTest, OnlyNumericAddressesAreClassified) {
  // inet_pton's strict forms only: the decimal and octal forms inet_aton accepts are host names
  // here, and the fetcher checks what they resolve to (see the http upload tests).
  for (const char* text : {"", "localhost", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "[::1]",
                           "1.2.3.4.5", "10.0.0.1%eth0", "example.com"}) {
    EXPECT_FALSE(ClassifyPeerAddress(text).ok()) << text;
  }
}

TEST(PeerAddressTest, CheckNamesTheRangeAndTheFlag) {
  EXPECT_TRUE(CheckPeerAddress("8.8.8.8", false, "--flag").ok());
  EXPECT_TRUE(CheckPeerAddress("127.0.0.1", true, "--flag").ok());

  absl::Status loopback = CheckPeerAddress("127.0.0.1", false, "--flag");
  EXPECT_TRUE(absl::IsPermissionDenied(loopback)) << loopback;
  EXPECT_NE(loopback.message().find("127.0.0.0/8"), std::string::npos) << loopback;
  EXPECT_NE(loopback.message().find("--flag"), std::string::npos) << loopback;

  for (bool allow_private : {false, true}) {
    absl::Status metadata = CheckPeerAddress("169.254.169.254", allow_private, "--flag");
    EXPECT_TRUE(absl::IsPermissionDenied(metadata)) << metadata;
    EXPECT_NE(metadata.message().find("169.254.0.0/16"), std::string::npos) << metadata;
    EXPECT_EQ(metadata.message().find("--flag"), std::string::npos) << metadata;
    EXPECT_TRUE(absl::IsPermissionDenied(CheckPeerAddress("fd00:ec2::254", allow_private, "")));
    EXPECT_TRUE(absl::IsPermissionDenied(CheckPeerAddress("fe80::1", allow_private, "")));
  }
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPeerAddress("nope", true, "--flag")));
}

}  // namespace
}  // namespace tessera::http

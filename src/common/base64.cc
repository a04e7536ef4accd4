#include "common/base64.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace tessera {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int8_t kInvalid = -1;
constexpr int8_t kSkip = -2;

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  table['-'] = 62;  // URL-safe alphabet
  table['_'] = 63;
  for (char c : {' ', '\t', '\r', '\n'}) table[static_cast<uint8_t>(c)] = kSkip;
  return table;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

absl::StatusOr<std::string> Base64Decode(std::string_view encoded) {
  // At most 3 bytes per 4 characters (+3 for a final partial group written by the slow path).
  std::string out(encoded.size() / 4 * 3 + 3, '\0');
  size_t n = 0;
  uint32_t accum = 0;
  int bits = 0;
  size_t padding = 0;
  const auto* in = reinterpret_cast<const uint8_t*>(encoded.data());
  for (size_t i = 0; i < encoded.size();) {
    // Fast path (images are hundreds of KiB of plain base64): whole groups of four alphabet
    // characters, three bytes each. Anything else -- padding, whitespace, an invalid
    // character, a group split by whitespace -- goes through the character loop below.
    while (bits == 0 && padding == 0 && i + 4 <= encoded.size()) {
      const int8_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]],
                   d = kDecode[in[i + 3]];
      if ((a | b | c | d) < 0) break;  // kInvalid and kSkip are negative
      const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | d;
      out[n++] = static_cast<char>(v >> 16);
      out[n++] = static_cast<char>((v >> 8) & 0xFF);
      out[n++] = static_cast<char>(v & 0xFF);
      i += 4;
    }
    if (i >= encoded.size()) break;
    const uint8_t ch = in[i];
    if (ch == '=') {
      ++padding;
      ++i;
      continue;
    }
    const int8_t v = kDecode[ch];
    if (v == kSkip) {
      ++i;
      continue;
    }
    if (v == kInvalid || padding > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid base64: unexpected character at offset ", i));
    }
    accum = (accum << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<char>((accum >> bits) & 0xFF);
    }
    ++i;
  }
  // 6 leftover bits means one lone character: not a whole byte, not base64.
  if (bits >= 6 || padding > 2) {
    return absl::InvalidArgumentError("invalid base64: truncated input");
  }
  out.resize(n);
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace tessera

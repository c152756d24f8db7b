// Paths in printed hints ("next: lira score PATH") as one shell word, so that copying the
// hint into a shell works whatever the path holds.
#pragma once

#include <string>
#include <string_view>

namespace lira {

// s itself when it is made of characters no shell treats specially, else single-quoted
// ('\'' for each quote inside).
inline std::string shell_word(std::string_view s) {
  bool plain = !s.empty();
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("_./:=@%+,-").find(c) != std::string_view::npos;
    plain = plain && ok;
  }
  if (plain) return std::string(s);
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace lira

// Random Airbyte message lines in many serializations, for property tests and fuzz seeds:
// every message type, shuffled key orders, odd whitespace, escapes and \u sequences, unicode,
// `stream` keys nested inside `data`, duplicate keys, CRLF, and lines that are not protocol
// (plain text, truncated messages, wrong envelopes).
//
//   MessageGenerator gen(/*seed=*/42);
//   std::string input;
//   for (int i = 0; i < 1000; ++i) gen.AppendLine(&input);

#ifndef SLUICE_PROTOCOL_TESTING_GENERATOR_H_
#define SLUICE_PROTOCOL_TESTING_GENERATOR_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sluice::protocol::testing {

struct GeneratorOptions {
  double canonical = 0.5;  // share of RECORD lines in the fast path's shapes
  double not_protocol = 0.08;
  size_t max_data_depth = 4;
  size_t max_string = 40;  // characters in generated strings
  size_t big_string = 0;   // when > 0, some records carry a string of this many bytes
};

class MessageGenerator {
 public:
  explicit MessageGenerator(uint64_t seed, GeneratorOptions options = {});

  // Appends one line with its terminator ("\n", sometimes "\r\n").
  void AppendLine(std::string* out);
  // One message, no terminator, in a canonical shape.
  std::string CanonicalRecord();

 private:
  struct Style {
    bool spaces = false;    // one space after ':' and ','
    bool weird_ws = false;  // random runs of whitespace between tokens
    bool escape_keys = false;
  };

  std::string Message(const Style& style);
  std::string NotProtocol();
  std::string Record(const Style& style);
  std::string State(const Style& style);
  std::string Trace(const Style& style);
  std::string Other(const Style& style, const std::string& type);

  std::string Ws(const Style& style);
  std::string Key(const Style& style, const std::string& key);
  std::string Str(const std::string& s, bool escape_more);
  std::string Object(const Style& style, std::vector<std::pair<std::string, std::string>> fields,
                     bool shuffle);
  std::string Descriptor(const Style& style);
  std::string Value(const Style& style, size_t depth);
  std::string RandomText();
  std::string StreamName();
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  size_t Uniform(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  GeneratorOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace sluice::protocol::testing

#endif  // SLUICE_PROTOCOL_TESTING_GENERATOR_H_

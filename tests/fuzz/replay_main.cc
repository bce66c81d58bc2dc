// A stand-in for libFuzzer's main in the normal (gcc) build: runs
// LLVMFuzzerTestOneInput over every file in the given corpus directories,
// then over seeded random mutations of them, so every fuzz target builds and
// gets a short smoke run in ctest. Usage:
//   fuzz_<target> [CORPUS_DIR_OR_FILE...] [--iterations N] [--seed S]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

uint64_t g_state = 1;
uint64_t Next() {  // splitmix64
  uint64_t z = (g_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }

std::string Mutate(std::string s, const std::vector<std::string>& corpus) {
  const int steps = 1 + static_cast<int>(Below(4));
  for (int i = 0; i < steps; ++i) {
    switch (Below(7)) {
      case 0:  // flip a bit
        if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1:  // set a byte to an interesting value
        if (!s.empty()) {
          static const unsigned char kVals[] = {0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0xfe};
          s[Below(s.size())] = static_cast<char>(kVals[Below(sizeof kVals)]);
        }
        break;
      case 2:  // insert random bytes
        for (size_t k = 0, n = 1 + Below(16), at = Below(s.size() + 1); k < n; ++k) {
          s.insert(s.begin() + static_cast<long>(at), static_cast<char>(Next()));
        }
        break;
      case 3:  // erase a range
        if (!s.empty()) {
          size_t at = Below(s.size());
          s.erase(at, 1 + Below(std::min<size_t>(64, s.size() - at)));
        }
        break;
      case 4:  // truncate
        s.resize(Below(s.size() + 1));
        break;
      case 5:  // splice with another corpus entry
        if (!corpus.empty()) {
          const std::string& o = corpus[Below(corpus.size())];
          s = s.substr(0, Below(s.size() + 1)) + o.substr(Below(o.size() + 1));
        }
        break;
      default:  // duplicate a range (replays)
        if (!s.empty()) {
          size_t at = Below(s.size());
          size_t n = 1 + Below(std::min<size_t>(256, s.size() - at));
          s.insert(Below(s.size() + 1), s.substr(at, n));
        }
        break;
    }
  }
  return s;
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 3000;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && i + 1 < argc) {
      g_state = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::error_code ec;
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(arg, ec)) {
        for (const auto& e : std::filesystem::directory_iterator(arg, ec)) {
          if (e.is_regular_file()) files.push_back(e.path());
        }
      } else {
        files.push_back(arg);
      }
      for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
          std::fprintf(stderr, "cannot read %s\n", f.c_str());
          return 2;
        }
        std::ostringstream s;
        s << in.rdbuf();
        corpus.push_back(s.str());
      }
    }
  }
  for (const std::string& c : corpus) Run(c);
  for (long i = 0; i < iterations; ++i) {
    if (corpus.empty() || Below(8) == 0) {
      std::string r(Below(512), '\0');
      for (char& c : r) c = static_cast<char>(Next());
      Run(r);
    } else {
      Run(Mutate(corpus[Below(corpus.size())], corpus));
    }
  }
  std::printf("%zu corpus inputs and %ld generated inputs ran\n", corpus.size(), iterations);
  return 0;
}

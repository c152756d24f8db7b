// Implements load_dataset: format dispatch, candidate pool, test split, normalization.
#include "dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "bpe.hpp"
#include "cifar.hpp"
#include "common/errors.hpp"
#include "common/rng.hpp"
#include "csv_table.hpp"
#include "idx.hpp"

namespace lira {
namespace fs = std::filesystem;
namespace {

std::string package_hint(const std::string& dataset) {
  return dataset == "fashion-mnist" ? " (Debian: apt-get install dataset-fashion-mnist)" : "";
}

// "<dir>/<stem>" or "<dir>/<stem>.gz", whichever exists.
std::string find_file(const std::string& dir, const std::string& stem, const std::string& dataset,
                      bool allow_gz = true) {
  std::error_code ec;
  for (const auto& candidate : {fs::path(dir) / stem, fs::path(dir) / (stem + ".gz")}) {
    if (fs::exists(candidate, ec)) return candidate.string();
    if (!allow_gz) break;
  }
  throw DataError("dataset " + dataset + ": '" + stem + "'" + (allow_gz ? " (or .gz)" : "") + " is not in '" + dir +
                  "'; set data.path to the directory that holds the dataset's files" + package_hint(dataset));
}

Split read_idx_split(const std::string& images_path, const std::string& labels_path, int64_t classes) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    throw DataError("'" + images_path + "' must hold images [count, height, width], it has " +
                    std::to_string(images.dims.size()) + " dimensions");
  if (labels.dims.size() != 1) throw DataError("'" + labels_path + "' must hold a 1-dimensional label vector");
  if (labels.dims[0] != images.dims[0])
    throw DataError("'" + labels_path + "' has " + std::to_string(labels.dims[0]) + " labels but '" + images_path +
                    "' has " + std::to_string(images.dims[0]) + " images");
  Split s;
  s.count = images.dims[0];
  s.example_shape = {1, images.dims[1], images.dims[2]};
  s.pixels = std::move(images.data);
  s.labels.assign(labels.data.begin(), labels.data.end());
  for (int64_t i = 0; i < s.count; ++i)
    if (s.labels[i] >= classes)
      throw DataError("'" + labels_path + "': label " + std::to_string(s.labels[i]) + " of example " +
                      std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  return s;
}

struct Loaded {
  std::vector<std::string> files;  // every file read, for the identity
  Split train, test;
  bool has_test = true;  // false: take the test split from the training rows outside the pool
  int64_t classes = 0;
  std::vector<double> mean, stddev;  // per channel, of pixels / 255 (images only)
};

// MNIST and Fashion-MNIST share file names and format, so data.dataset pointed at the
// other's files would train silently with the wrong normalization and class names. The
// first labels of the standard files tell them apart (train, then test split):
//   MNIST          5 0 4 1 9 2 1 3 1 4 3 5 | 7 2 1 0 4 1 4 9 5 9 0 6
//   Fashion-MNIST  9 0 0 3 0 2 7 2 5 5 0 9 | 9 2 1 1 6 1 4 6 5 7 4 5
// Files that are neither (a subset, a test's own data) are left alone.
void check_mnist_kind(const DataConfig& c, const Split& train, const Split& test) {
  static const int64_t kMnist[2][12] = {{5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5}, {7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6}};
  static const int64_t kFashion[2][12] = {{9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9}, {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5}};
  auto starts_with = [](const Split& s, const int64_t* want) {
    return s.labels.size() >= 12 && std::equal(want, want + 12, s.labels.begin());
  };
  auto is = [&](const int64_t (&sig)[2][12]) { return starts_with(train, sig[0]) && starts_with(test, sig[1]); };
  const bool mnist_files = is(kMnist), fashion_files = is(kFashion);
  if (c.dataset == "mnist" && fashion_files)
    throw DataError("data.dataset is mnist, but the files in '" + c.path +
                    "' are Fashion-MNIST (their first labels are Fashion-MNIST's); set data.dataset: fashion-mnist, "
                    "or point data.path at MNIST's files");
  if (c.dataset == "fashion-mnist" && mnist_files)
    throw DataError("data.dataset is fashion-mnist, but the files in '" + c.path +
                    "' are MNIST (their first labels are MNIST's); set data.dataset: mnist, or point data.path at "
                    "Fashion-MNIST's files");
}

Loaded load_files(const DataConfig& c) {
  std::error_code ec;
  if (!fs::is_directory(c.path, ec)) {
    // Say where it looked (a relative path is from the working directory), what it wants
    // there, and that nothing is fetched.
    std::string where = "data.path '" + c.path + "'";
    if (fs::path(c.path).is_relative()) where += " (" + fs::absolute(c.path, ec).string() + ", relative to the working directory)";
    std::string wants;
    if (c.dataset == "cifar10")
      wants = "; it must be a directory holding CIFAR-10's binary files data_batch_1.bin ... data_batch_5.bin and "
              "test_batch.bin (the \"CIFAR-10 binary version\"); lira downloads nothing";
    else if (c.dataset == "cifar100")
      wants = "; it must be a directory holding CIFAR-100's binary files train.bin and test.bin; lira downloads nothing";
    else if (c.dataset == "mnist" || c.dataset == "fashion-mnist")
      wants = "; it must be a directory holding the IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
              "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (or .gz); lira downloads nothing";
    throw DataError(where + (fs::exists(c.path, ec) ? " is not a directory" : " does not exist") + wants +
                    package_hint(c.dataset));
  }
  Loaded l;
  auto find = [&](const std::string& stem, bool allow_gz = true) {
    l.files.push_back(find_file(c.path, stem, c.dataset, allow_gz));
    return l.files.back();
  };
  if (c.dataset == "fashion-mnist" || c.dataset == "mnist") {
    l.classes = 10;
    l.train = read_idx_split(find("train-images-idx3-ubyte"), find("train-labels-idx1-ubyte"), 10);
    l.test = read_idx_split(find("t10k-images-idx3-ubyte"), find("t10k-labels-idx1-ubyte"), 10);
    check_mnist_kind(c, l.train, l.test);
    if (c.dataset == "fashion-mnist") {
      l.mean = {0.2860}, l.stddev = {0.3530};
    } else {
      l.mean = {0.1307}, l.stddev = {0.3081};
    }
  } else if (c.dataset == "cifar10") {
    std::vector<std::string> batches;
    for (int i = 1; i <= 5; ++i) batches.push_back(find("data_batch_" + std::to_string(i) + ".bin", false));
    l.classes = 10;
    l.train = read_cifar10(batches);
    l.test = read_cifar10({find("test_batch.bin", false)});
    l.mean = {0.4914, 0.4822, 0.4465}, l.stddev = {0.2470, 0.2435, 0.2616};
  } else if (c.dataset == "cifar100") {
    const bool coarse = c.cifar100_labels == "coarse";
    l.classes = coarse ? 20 : 100;
    l.train = read_cifar100(find("train.bin", false), coarse);
    l.test = read_cifar100(find("test.bin", false), coarse);
    l.mean = {0.5071, 0.4865, 0.4409}, l.stddev = {0.2673, 0.2564, 0.2762};
  } else if (c.dataset == "csv") {
    const CsvFormat format{c.csv_label == "first", c.csv_header};
    l.train = read_csv_table(find("train.csv", false), format);
    std::error_code e2;
    l.has_test = fs::exists(fs::path(c.path) / "test.csv", e2);
    if (l.has_test) {
      l.test = read_csv_table(find("test.csv", false), format);
      if (l.test.example_shape != l.train.example_shape)
        throw DataError("test.csv and train.csv in '" + c.path + "' have different numbers of columns");
    }
    int64_t max_label = 0;
    for (auto y : l.train.labels) max_label = std::max(max_label, y);
    for (auto y : l.test.labels) max_label = std::max(max_label, y);
    l.classes = max_label + 1;
    if (l.classes < 2) throw DataError("'" + c.path + "/train.csv' has a single class: nothing to learn");
  } else {
    throw ConfigError("data.dataset: unknown dataset '" + c.dataset + "'");
  }
  return l;
}

// Per-feature mean and standard deviation over a table split.
void table_moments(const Split& s, std::vector<double>& mean, std::vector<double>& sd) {
  const int64_t f = s.example_size();
  mean.assign(f, 0.0);
  sd.assign(f, 0.0);
  for (int64_t i = 0; i < s.count; ++i)
    for (int64_t j = 0; j < f; ++j) mean[j] += s.features[i * f + j];
  for (auto& m : mean) m /= static_cast<double>(std::max<int64_t>(1, s.count));
  for (int64_t i = 0; i < s.count; ++i)
    for (int64_t j = 0; j < f; ++j) sd[j] += std::pow(s.features[i * f + j] - mean[j], 2);
  for (auto& v : sd) v = std::sqrt(v / static_cast<double>(std::max<int64_t>(1, s.count)));
}

}  // namespace

std::string file_identity(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read '" + path + "' to fingerprint it");
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bit
  uint64_t size = 0;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<size_t>(in.gcount());
    for (size_t i = 0; i < got; ++i) hash = (hash ^ static_cast<uint8_t>(buf[i])) * 0x100000001b3ull;
    size += got;
  }
  char line[512];
  std::snprintf(line, sizeof line, "%s %llu bytes fnv1a64 %016llx", fs::path(path).filename().c_str(),
                static_cast<unsigned long long>(size), static_cast<unsigned long long>(hash));
  return line;
}

std::shared_ptr<const Dataset> synthetic_dataset(int64_t candidates) {
  auto d = std::make_shared<Dataset>();
  d->name = "synthetic";
  d->classes = 10;
  d->candidates.count = candidates;
  d->candidates.example_shape = {1};
  d->candidates.labels.assign(static_cast<size_t>(candidates), 0);
  d->candidate_index.resize(static_cast<size_t>(candidates));
  for (int64_t i = 0; i < candidates; ++i) d->candidate_index[i] = i;
  d->identity = "synthetic " + std::to_string(candidates) + " candidates\n";
  return d;
}

Split Split::slice(int64_t first, int64_t n) const {
  Split s;
  s.count = n;
  s.example_shape = example_shape;
  const int64_t size = example_size();
  if (!pixels.empty()) s.pixels.assign(pixels.begin() + first * size, pixels.begin() + (first + n) * size);
  if (!features.empty()) s.features.assign(features.begin() + first * size, features.begin() + (first + n) * size);
  s.labels.assign(labels.begin() + first, labels.begin() + first + n);
  return s;
}

namespace {

// Text: records [offset, offset + N) are the pool; the test records are the next
// test_examples records (default 1,000), or the ones before the pool when too few follow.
std::shared_ptr<const Dataset> load_text_dataset(const DataConfig& config) {
  std::vector<std::string> files;
  const bool llmc = config.dataset == "llmc";
  std::vector<std::string> records;
  std::vector<std::vector<int32_t>> token_records;
  if (llmc)
    token_records = read_llmc_records(config.path, config.vocab_size, &files);
  else
    records = read_text_records(config.dataset, config.path, config.text_field, &files);
  const int64_t total = static_cast<int64_t>(llmc ? token_records.size() : records.size());
  const int64_t first = config.candidate_offset, n = config.candidates;
  if (first + n > total)
    throw DataError("data.candidate_offset + data.candidates = " + std::to_string(first) + " + " + std::to_string(n) +
                    " but '" + config.path + "' holds " + std::to_string(total) + " " + config.dataset +
                    " records; lower data.candidates");
  auto d = std::make_shared<Dataset>();
  d->name = config.dataset;
  d->classes = llmc ? config.vocab_size : kByteVocab;
  // The tokenizer: byte-level, or BPE with <|endoftext|> beginning each record. llm.c
  // shards come tokenized; a BPE vocabulary, when given, decodes them for the zlib sizes.
  std::unique_ptr<BpeTokenizer> bpe;
  if (config.tokenizer == "bpe" || (llmc && !config.bpe_vocab.empty() && !config.bpe_merges.empty())) {
    bpe = std::make_unique<BpeTokenizer>(config.bpe_vocab, config.bpe_merges);
    if (!llmc && bpe->end_of_text() < 0)
      throw DataError("'" + config.bpe_vocab + "' has no <|endoftext|> token to begin each record with");
    if (!llmc) d->classes = bpe->vocab_size();
    files.push_back(config.bpe_vocab);
    files.push_back(config.bpe_merges);
  }
  const std::function<std::string(const std::vector<int32_t>&)> decode = [&](const std::vector<int32_t>& t) {
    if (bpe) return bpe->decode(t);
    // llm.c tokens without a vocabulary: the zlib size of their uint16 bytes.
    std::string raw;
    for (int32_t x : t) raw += static_cast<char>(x & 0xff), raw += static_cast<char>((x >> 8) & 0xff);
    return raw;
  };
  const auto add = [&](TokenRecords& r, int64_t i) {
    if (llmc) return r.add_tokens(token_records[static_cast<size_t>(i)], config.max_tokens, decode);
    const auto& text = records[static_cast<size_t>(i)];
    if (!bpe) return r.add(text, config.max_tokens);
    std::vector<int32_t> t{bpe->end_of_text()};
    const auto body = bpe->encode(text);
    t.insert(t.end(), body.begin(), body.end());
    r.add_tokens(std::move(t), config.max_tokens, decode);
  };
  std::vector<std::string> ids;
  for (const auto& f : files) ids.push_back(file_identity(f));
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) d->identity += id + "\n";
  auto pool = std::make_shared<TokenRecords>();
  for (int64_t i = first; i < first + n; ++i) add(*pool, i);
  const int64_t rest = total - first - n;
  const int64_t want = config.test_examples > 0 ? config.test_examples : std::min<int64_t>(1000, std::max(rest, first));
  auto test = std::make_shared<TokenRecords>();
  for (int64_t i = first + n; i < total && test->count() < want; ++i) add(*test, i);
  for (int64_t i = first - 1; i >= 0 && test->count() < want; --i) add(*test, i);
  if (test->count() == 0)
    throw DataError("'" + config.path + "' has no records outside the pool for the test loss; lower data.candidates");
  d->candidates.count = n;
  d->candidates.example_shape = {config.max_tokens};
  d->candidates.labels.assign(static_cast<size_t>(n), 0);
  d->candidate_index.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) d->candidate_index[i] = first + i;
  d->test.count = test->count();
  d->test.example_shape = {config.max_tokens};
  d->test.labels.assign(static_cast<size_t>(test->count()), 0);
  d->text = std::move(pool);
  d->text_test = std::move(test);
  return d;
}

// data.canaries (docs/privacy.md): pool slots [N - P - k, N - P) hold k canaries, drawn
// from a fixed seed so every experiment on the same data section has the same ones. Their
// /candidate_index is -1: they are no example of the training split.
void insert_canaries(const DataConfig& config, const Split& test_source, int64_t classes, Dataset& d) {
  constexpr uint64_t kCanarySeed = 0x6c6972612d636e72ull;  // "lira-cnr"
  Xoshiro256 rng(kCanarySeed);
  Split& pool = d.candidates;
  const int64_t k = config.canaries, first = pool.count - config.population - k;
  const int64_t size = pool.example_size();
  const bool mislabeled = config.canary_kind == "mislabeled";
  for (int64_t j = 0; j < k; ++j) {
    const int64_t slot = first + j;
    if (mislabeled) {
      const int64_t src = test_source.count - k + j;
      if (pool.is_image())
        std::copy_n(test_source.pixels.begin() + src * size, size, pool.pixels.begin() + slot * size);
      else
        std::copy_n(test_source.features.begin() + src * size, size, pool.features.begin() + slot * size);
      const auto shift = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(classes - 1)));
      pool.labels[slot] = (test_source.labels[src] + shift) % classes;
    } else {
      for (int64_t b = 0; b < size; ++b) pool.pixels[slot * size + b] = static_cast<uint8_t>(rng.below(256));
      pool.labels[slot] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(classes)));
    }
    d.candidate_index[slot] = -1;
  }
}

}  // namespace

void check_config_with_data(const Config& c, const Dataset& d) {
  const auto& shape = d.candidates.example_shape;
  if (c.model.arch == "airbench94" && (shape.size() != 3 || shape[0] != 3 || shape[1] != 32 || shape[2] != 32)) {
    std::string s;
    for (auto x : shape) {
      if (!s.empty()) s += 'x';
      s += std::to_string(x);
    }
    throw ConfigError("model.arch: airbench94 is the published network for 32x32 RGB images (CIFAR); " + d.name +
                      " has examples of shape " + s + ". Use model.arch airbench for other sizes");
  }
  if (c.defense.early_stopping > 0 && c.defense.validation_examples >= d.test.count)
    throw ConfigError("defense.validation_examples: " + std::to_string(c.defense.validation_examples) +
                      " would take every one of the " + std::to_string(d.test.count) +
                      " test examples for early stopping's validation split; lower it (or raise data.test_examples)");
  if (c.defense.top_k > 0 && c.defense.top_k >= d.classes)
    throw ConfigError("defense.top_k: " + std::to_string(c.defense.top_k) + " releases every one of the " +
                      std::to_string(d.classes) + " classes of " + d.name + "; set it below " +
                      std::to_string(d.classes) + " (or 0 for no top-k defense)");
}

std::shared_ptr<const Dataset> load_dataset(const DataConfig& config) {
  if (config.is_text()) return load_text_dataset(config);
  Loaded l = load_files(config);
  auto d = std::make_shared<Dataset>();
  d->name = config.dataset;
  d->classes = l.classes;
  std::vector<std::string> ids;
  for (const auto& f : l.files) ids.push_back(file_identity(f));
  std::sort(ids.begin(), ids.end());  // independent of the order the readers ran in
  for (const auto& id : ids) d->identity += id + "\n";

  const int64_t first = config.candidate_offset, n = config.candidates;
  if (first + n > l.train.count)
    throw DataError("data.candidate_offset + data.candidates = " + std::to_string(first) + " + " + std::to_string(n) +
                    " but the training split of " + config.dataset + " in '" + config.path + "' has only " +
                    std::to_string(l.train.count) + " examples; lower data.candidates");
  d->candidates = l.train.slice(first, n);
  d->candidate_index.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) d->candidate_index[i] = first + i;

  const int64_t test_limit = config.test_examples > 0 ? config.test_examples : INT64_MAX;
  Split test_source;
  if (l.has_test) {
    test_source = std::move(l.test);
  } else {
    // A table without test.csv: the training rows after the pool (then before it).
    test_source = l.train.slice(first + n, l.train.count - first - n);
    if (test_source.count == 0) test_source = l.train.slice(0, first);
    if (test_source.count == 0)
      throw DataError("'" + config.path + "' has no test.csv and no training rows outside the candidate pool to test on");
  }
  // Mislabeled canaries are made from the test split's last examples, which the test
  // accuracy then leaves out.
  const int64_t reserved = config.canaries > 0 && config.canary_kind == "mislabeled" ? config.canaries : 0;
  if (reserved >= test_source.count)
    throw DataError("data.canaries: " + std::to_string(reserved) + " mislabeled canaries are made from the test split, "
                    "which has only " + std::to_string(test_source.count) + " examples and needs some left to test on; "
                    "lower data.canaries or use data.canary_kind: noise");
  d->test = test_source.slice(0, std::min(test_limit, test_source.count - reserved));
  if (config.canaries > 0) insert_canaries(config, test_source, l.classes, *d);

  const int64_t channels = d->candidates.is_image() ? d->candidates.example_shape[0] : d->candidates.example_size();
  d->scale.assign(channels, 1.0f);
  d->shift.assign(channels, 0.0f);
  if (d->candidates.is_image()) {
    for (int64_t c = 0; c < channels; ++c) {
      if (config.normalization == "standard") {
        d->scale[c] = static_cast<float>(1.0 / (255.0 * l.stddev[c]));
        d->shift[c] = static_cast<float>(-l.mean[c] / l.stddev[c]);
      } else if (config.normalization == "symmetric") {  // x / 127.5 - 1, the official LiRA demo
        d->scale[c] = static_cast<float>(1.0 / 127.5);
        d->shift[c] = -1.0f;
      } else {
        d->scale[c] = static_cast<float>(1.0 / 255.0);
      }
    }
  } else if (config.normalization == "standard") {
    std::vector<double> mean, sd;
    table_moments(d->candidates, mean, sd);
    for (int64_t j = 0; j < channels; ++j) {
      const double s = sd[j] > 0 ? sd[j] : 1.0;  // a constant column stays constant
      d->scale[j] = static_cast<float>(1.0 / s);
      d->shift[j] = static_cast<float>(-mean[j] / s);
    }
  }
  return d;
}

}  // namespace lira

namespace lira {

std::vector<std::string> class_names(const std::string& dataset) {
  if (dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  if (dataset == "mnist") return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  if (dataset == "cifar10")
    return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return {};
}

}  // namespace lira

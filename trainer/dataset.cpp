// Implements load_dataset for the IDX datasets (MNIST, Fashion-MNIST).
#include "dataset.hpp"

#include <filesystem>

#include "common/errors.hpp"
#include "idx.hpp"

namespace lira {
namespace {

// "<dir>/<stem>" or "<dir>/<stem>.gz", whichever exists.
std::string find_file(const std::string& dir, const std::string& stem, const std::string& dataset) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& candidate : {fs::path(dir) / stem, fs::path(dir) / (stem + ".gz")})
    if (fs::exists(candidate, ec)) return candidate.string();
  std::string hint = dataset == "fashion-mnist" ? " (Debian: apt-get install dataset-fashion-mnist)" : "";
  throw DataError("dataset " + dataset + ": neither '" + stem + "' nor '" + stem + ".gz' is in '" + dir +
                  "'; set data.path to the directory that holds the IDX files" + hint);
}

ImageSet read_split(const std::string& images_path, const std::string& labels_path, int64_t classes, int64_t limit) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    throw DataError("'" + images_path + "' must hold images [count, height, width], it has " +
                    std::to_string(images.dims.size()) + " dimensions");
  if (labels.dims.size() != 1) throw DataError("'" + labels_path + "' must hold a 1-dimensional label vector");
  if (labels.dims[0] != images.dims[0])
    throw DataError("'" + labels_path + "' has " + std::to_string(labels.dims[0]) + " labels but '" + images_path +
                    "' has " + std::to_string(images.dims[0]) + " images");
  ImageSet s;
  s.count = std::min<int64_t>(images.dims[0], limit);
  s.channels = 1;
  s.height = images.dims[1];
  s.width = images.dims[2];
  const int64_t per = s.channels * s.height * s.width;
  s.pixels.assign(images.data.begin(), images.data.begin() + s.count * per);
  s.labels.resize(static_cast<size_t>(s.count));
  for (int64_t i = 0; i < s.count; ++i) {
    s.labels[i] = labels.data[i];
    if (s.labels[i] >= classes)
      throw DataError("'" + labels_path + "': label " + std::to_string(s.labels[i]) + " of example " +
                      std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  }
  return s;
}

}  // namespace

std::shared_ptr<const Dataset> load_dataset(const DataConfig& config) {
  auto d = std::make_shared<Dataset>();
  d->name = config.dataset;
  d->classes = 10;
  if (config.dataset == "fashion-mnist") {
    d->mean = {0.2860};
    d->stddev = {0.3530};
  } else if (config.dataset == "mnist") {
    d->mean = {0.1307};
    d->stddev = {0.3081};
  } else {
    throw ConfigError("data.dataset: unknown dataset '" + config.dataset + "'");
  }
  const auto& dir = config.path;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw DataError("data.path '" + dir + "' is not a directory" +
                    (config.dataset == "fashion-mnist" ? " (Debian: apt-get install dataset-fashion-mnist)" : ""));
  // Reads (and so validates) the whole training split, keeps the first N examples.
  d->candidates = read_split(find_file(dir, "train-images-idx3-ubyte", d->name),
                             find_file(dir, "train-labels-idx1-ubyte", d->name), d->classes, config.candidates);
  if (d->candidates.count < config.candidates)
    throw DataError("data.candidates = " + std::to_string(config.candidates) + " but the training split of " +
                    d->name + " in '" + dir + "' has only " + std::to_string(d->candidates.count) +
                    " examples; lower data.candidates");
  d->candidate_index.resize(static_cast<size_t>(d->candidates.count));
  for (int64_t i = 0; i < d->candidates.count; ++i) d->candidate_index[i] = i;
  const int64_t test_limit = config.test_examples > 0 ? config.test_examples : INT64_MAX;
  d->test = read_split(find_file(dir, "t10k-images-idx3-ubyte", d->name),
                       find_file(dir, "t10k-labels-idx1-ubyte", d->name), d->classes, test_limit);
  if (d->test.height != d->candidates.height || d->test.width != d->candidates.width)
    throw DataError("the test and training images of '" + dir + "' have different sizes");
  return d;
}

}  // namespace lira

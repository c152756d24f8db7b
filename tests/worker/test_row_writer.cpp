// Workers writing their results' rows into the results file (worker/row_writer.hpp)
// against the coordinator's side (ResultsWriter::direct_rows, stage_model of a written
// result): the rows land where the coordinator's own writes would, a file that is not the
// coordinator's is recognised, and mismatched results are refused.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>

#include "common/errors.hpp"
#include "storage/results_file.hpp"
#include "worker/row_writer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() / ("lira-rows-" + std::to_string(getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() { fs::remove_all(path); }
};

ResultsLayout layout() {
  ResultsLayout l;
  l.models = 4;
  l.candidates = 3;
  l.queries = {"identity", "mirror"};
  l.signals = {{"logit_confidence", {3, 2}}, {"loss", {3, 2}}};
  return l;
}

std::unique_ptr<ResultsWriter> make_file(const std::string& path) {
  const std::vector<uint8_t> keep{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
  const std::vector<int64_t> labels{0, 1, 2}, index{0, 1, 2};
  const std::vector<uint64_t> seeds{1, 2, 3, 4};
  return ResultsWriter::create(path, layout(), {"config", "test", "fp", "data"}, keep, labels, index, seeds,
                               ResultsWriter::Mode::kCreateNew);
}

ModelResult result(int64_t m) {
  ModelResult r;
  r.model = m;
  r.train_accuracy = r.test_accuracy = 0.5;
  SignalArray conf{"logit_confidence", {3, 2}, {}}, loss{"loss", {3, 2}, {}};
  for (int i = 0; i < 6; ++i) {
    conf.values.push_back(static_cast<float>(m * 10 + i));
    loss.values.push_back(static_cast<float>(-m * 10 - i));
  }
  r.signals = {conf, loss};
  return r;
}

}  // namespace

TEST_CASE("rows a worker writes read back as the coordinator's own, and only their scalars travel") {
  Dir dir;
  const auto path = (dir.path / "r.h5").string();
  auto w = make_file(path);
  const DirectRows target = w->direct_rows();
  REQUIRE(target.enabled());
  CHECK(target.path == fs::absolute(path).string());
  CHECK(target.signals.size() == 2);
  CHECK(target.signals[0].row_bytes == 24);

  RowWriter rows;
  REQUIRE(rows.usable(target));
  auto r = result(2);
  rows.write(target, r);
  CHECK(r.written);
  CHECK(r.signals[0].values.empty());
  w->stage_model(r, 1);
  w->write_model(result(3), 0);  // sent through the coordinator, as before
  w->close();

  ResultsReader reader(path);
  CHECK(reader.done() == std::vector<uint8_t>{0, 0, 1, 1});
  std::vector<float> conf, loss;
  reader.read_signal("logit_confidence", 0, 3, conf);
  reader.read_signal("loss", 0, 3, loss);
  for (int64_t m : {2, 3})
    for (int i = 0; i < 6; ++i) {
      REQUIRE(conf[m * 6 + i] == static_cast<float>(m * 10 + i));
      REQUIRE(loss[m * 6 + i] == static_cast<float>(-m * 10 - i));
    }
}

TEST_CASE("a worker that sees another file, or none, does not write, and bad results are refused") {
  Dir dir;
  const auto path = (dir.path / "r.h5").string();
  auto w = make_file(path);
  const DirectRows target = w->direct_rows();
  {  // a copy of the file elsewhere (another node's disk): a new run's nonce is not in it
    fs::copy_file(path, dir.path / "copy.h5");
    DirectRows elsewhere = target;
    elsewhere.path = (dir.path / "copy.h5").string();
    const DirectRows renewed = w->direct_rows();  // the coordinator's next run: a fresh nonce
    elsewhere.nonce = renewed.nonce;
    RowWriter rows;
    CHECK_FALSE(rows.usable(elsewhere));
    CHECK(rows.why_not().find("nonce differs") != std::string::npos);
    CHECK(RowWriter().usable(renewed));
    CHECK_FALSE(RowWriter().usable(target));  // the old nonce is gone from the file
  }
  DirectRows missing = w->direct_rows();
  missing.path = (dir.path / "absent.h5").string();
  RowWriter none;
  CHECK_FALSE(none.usable(missing));
  CHECK(none.why_not().find("cannot open") != std::string::npos);
  auto r = result(1);
  CHECK_THROWS_AS(none.write(missing, r), StorageError);
  CHECK_FALSE(r.written);

  const DirectRows good = w->direct_rows();
  RowWriter rows;
  auto short_result = result(1);
  short_result.signals[1].values.pop_back();
  CHECK_THROWS_WITH_AS(rows.write(good, short_result), doctest::Contains("has 5 values"), StorageError);
  // The coordinator refuses a "written" result that still carries values, or lacks a signal.
  auto odd = result(1);
  odd.written = true;
  CHECK_THROWS_AS(w->stage_model(odd, 0), StorageError);
}

TEST_CASE("a file without a run nonce (an earlier version's) gets no row targets") {
  Dir dir;
  const auto path = (dir.path / "old.h5").string();
  make_file(path)->close();
  {
    // Remove /run_nonce as an earlier lira's file would lack it.
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    CHECK(H5Ldelete(f, "/run_nonce", H5P_DEFAULT) >= 0);
    H5Fclose(f);
  }
  auto w = ResultsWriter::resume(path, layout(), {"config", "test", "fp", "data"});
  CHECK_FALSE(w->direct_rows().enabled());
}

// Tests of the results file: round trip, unfinished models, refusals, minimal layout.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/errors.hpp"
#include "storage/results_file.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("lira-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static inline int counter = 0;
};

ResultsLayout small_layout() {
  ResultsLayout l;
  l.models = 4;
  l.candidates = 5;
  l.queries = {"identity", "mirror"};
  l.signals = {{"logit_confidence", {5, 2}}, {"loss", {5, 2}}};
  return l;
}

ModelResult result_for(int64_t m) {
  ModelResult r;
  r.model = m;
  r.train_accuracy = 0.9 + m * 0.01;
  r.test_accuracy = 0.8;
  r.train_seconds = 1.5;
  SignalArray conf{"logit_confidence", {5, 2}, {}}, loss{"loss", {5, 2}, {}};
  for (int i = 0; i < 10; ++i) {
    conf.values.push_back(static_cast<float>(m * 100 + i));
    loss.values.push_back(static_cast<float>(-(m * 100 + i)));
  }
  r.signals = {conf, loss};
  return r;
}

RunMetadata meta(const std::string& config = "training:\n  epochs: 3\n", const std::string& data = "a 1 bytes\n") {
  return {"experiment:\n  models: 4\n", "test", config, data};
}

std::unique_ptr<ResultsWriter> make_writer(const std::string& path, ResultsWriter::Mode mode = ResultsWriter::Mode::kCreateNew) {
  const std::vector<uint8_t> keep{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1};
  const std::vector<int64_t> labels{0, 1, 2, 3, 4}, index{10, 11, 12, 13, 14};
  const std::vector<uint64_t> seeds{7, 8, 9, 10};
  return ResultsWriter::create(path, small_layout(), meta(), keep, labels, index, seeds, mode);
}

}  // namespace

TEST_CASE("written models read back exactly, unfinished ones are not done") {
  TempDir dir;
  const auto path = (dir.path / "sub" / "r.h5").string();  // parent is created
  {
    auto w = make_writer(path);
    w->write_model(result_for(0), 1);
    w->write_model(result_for(2), 2);
    w->close();
  }
  ResultsReader r(path);
  CHECK(r.models() == 4);
  CHECK(r.candidates() == 5);
  CHECK(r.done() == std::vector<uint8_t>{1, 0, 1, 0});
  CHECK(r.keep()[10] == 1);
  CHECK(r.labels() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(r.queries() == std::vector<std::string>{"identity", "mirror"});
  CHECK(r.config_yaml() == "experiment:\n  models: 4\n");
  CHECK(r.signal_dims("logit_confidence") == std::vector<int64_t>{4, 5, 2});
  const auto acc = r.model_values("train_accuracy");
  CHECK(acc[2] == doctest::Approx(0.92));
  CHECK(std::isnan(acc[1]));

  std::vector<float> block;
  r.read_signal("logit_confidence", 1, 4, block);  // [4, 3, 2]
  REQUIRE(block.size() == 24);
  CHECK(block[0] == 2.f);           // model 0, candidate 1, query 0 = 0*100 + 1*2 + 0
  CHECK(block[2 * 6 + 5] == 207.f);  // model 2, candidate 3, query 1 = 200 + 3*2 + 1
  r.read_signal("loss", 0, 5, block);
  CHECK(block[2 * 10 + 9] == -209.f);
}

TEST_CASE("an existing file is never overwritten silently") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  make_writer(path)->close();
  CHECK_THROWS_WITH_AS(make_writer(path), doctest::Contains("already exists"), StorageError);
  auto w = make_writer(path, ResultsWriter::Mode::kOverwrite);
  w->close();
  CHECK(ResultsReader(path).done() == std::vector<uint8_t>{0, 0, 0, 0});
}

TEST_CASE("an unwritable location is a StorageError naming the path") {
  if (geteuid() == 0) {
    // root can write anywhere; a path below a regular file still fails.
    TempDir dir;
    const auto file = dir.path / "plain";
    fclose(fopen(file.c_str(), "w"));
    CHECK_THROWS_WITH_AS(make_writer((file / "r.h5").string()), doctest::Contains("plain"), StorageError);
  } else {
    CHECK_THROWS_AS(make_writer("/proc/lira-test/r.h5"), StorageError);
  }
}

TEST_CASE("a result of the wrong shape is refused before anything is written") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  auto w = make_writer(path);
  auto bad = result_for(1);
  bad.signals[1].shape = {5, 3};
  CHECK_THROWS_AS(w->write_model(bad, 0), StorageError);
  auto missing = result_for(1);
  missing.signals.pop_back();
  CHECK_THROWS_WITH_AS(w->write_model(missing, 0), doctest::Contains("lacks signal 'loss'"), StorageError);
  w->close();
  CHECK(ResultsReader(path).done()[1] == 0);
}

namespace {

// A minimal file as another tool writes it: /keep [2, 3] of `keep_type` (values `keep` in
// memory type `keep_mem`) and /signals/logit_confidence [2, 3, 1] in float64.
void write_minimal_file(const std::string& path, hid_t keep_type, hid_t keep_mem, const void* keep) {
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t kd[2] = {2, 3}, sd[3] = {2, 3, 1};
  const hid_t ks = H5Screate_simple(2, kd, nullptr);
  const hid_t kds = H5Dcreate2(f, "keep", keep_type, ks, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(kds, keep_mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, keep);
  const hid_t g = H5Gcreate2(f, "signals", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t ss = H5Screate_simple(3, sd, nullptr);
  const hid_t sds = H5Dcreate2(g, "logit_confidence", H5T_IEEE_F64LE, ss, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const double sig[6] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
  H5Dwrite(sds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sig);
  H5Dclose(sds), H5Sclose(ss), H5Gclose(g), H5Dclose(kds), H5Sclose(ks), H5Fclose(f);
}

}  // namespace

TEST_CASE("a minimal file written by another tool is readable: bool keep, float64 signals") {
  TempDir dir;
  const auto path = (dir.path / "minimal.h5").string();
  // numpy bool as h5py stores it: an int8 enum {FALSE = 0, TRUE = 1}.
  const hid_t bool_type = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t v = 0;
  H5Tenum_insert(bool_type, "FALSE", &v);
  v = 1;
  H5Tenum_insert(bool_type, "TRUE", &v);
  const int8_t keep[6] = {1, 0, 1, 0, 1, 0};
  write_minimal_file(path, bool_type, bool_type, keep);
  H5Tclose(bool_type);

  ResultsReader r(path);
  CHECK(r.done() == std::vector<uint8_t>{1, 1});
  CHECK(r.keep() == std::vector<uint8_t>{1, 0, 1, 0, 1, 0});
  CHECK(r.queries() == std::vector<std::string>{"q0"});
  CHECK(!r.has_signal("loss"));
  std::vector<float> block;
  r.read_signal("logit_confidence", 1, 3, block);
  CHECK(block == std::vector<float>{1.5f, 2.5f, 4.5f, 5.5f});
}

TEST_CASE("a keep value other than 0 and 1 is refused, naming the model and candidate") {
  TempDir dir;
  const auto path = (dir.path / "keep7.h5").string();
  const uint8_t keep[6] = {1, 0, 1, 0, 7, 0};  // model 1, candidate 1: damaged
  write_minimal_file(path, H5T_STD_U8LE, H5T_NATIVE_UINT8, keep);
  ResultsReader r(path);
  CHECK_THROWS_WITH_AS(r.keep(), doctest::Contains("holds 7 at model 1, candidate 1"), StorageError);
  std::vector<uint8_t> row;
  r.read_keep_row(0, row);  // an undamaged row still reads
  CHECK(row == std::vector<uint8_t>{1, 0, 1});
}

TEST_CASE("files that are not results files are refused clearly") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(ResultsReader{(dir.path / "none.h5").string()}, doctest::Contains("does not exist"),
                       StorageError);
  const auto text = dir.path / "text.h5";
  FILE* f = fopen(text.c_str(), "w");
  fputs("not hdf5", f);
  fclose(f);
  CHECK_THROWS_WITH_AS(ResultsReader{text.string()}, doctest::Contains("not an HDF5 file"), StorageError);
  const auto empty = (dir.path / "empty.h5").string();
  H5Fclose(H5Fcreate(empty.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  CHECK_THROWS_WITH_AS(ResultsReader{empty}, doctest::Contains("no /keep"), StorageError);
}

TEST_CASE("resuming: the same experiment continues, another one is refused with what differs") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  {
    auto w = make_writer(path);
    w->write_model(result_for(1), 0);
    w->record_failure(3, 2, "loss became nan");
    w->close();
  }
  {
    auto w = ResultsWriter::resume(path, small_layout(), meta());
    CHECK(w->done() == std::vector<uint8_t>{0, 1, 0, 0});
    w->record_dispatch(3);             // its third attempt, in this run
    w->write_model(result_for(3), 1);  // a failed model done on resume loses its failed flag
    w->close();
  }
  {
    ResultsReader r(path);  // (HDF5 refuses a read-write open while this process holds a read-only one)
    CHECK(r.done() == std::vector<uint8_t>{0, 1, 0, 1});
    CHECK(r.model_values("failed")[3] == 0.0);
    CHECK(r.model_errors()[3] == "loss became nan");  // the last failure's message stays for the record
    CHECK(r.model_values("attempts")[3] == 3.0);  // over every run of the file
    CHECK(r.model_values("running")[3] == 0.0);
  }

  CHECK_THROWS_WITH_AS(ResultsWriter::resume(path, small_layout(), meta("training:\n  epochs: 4\n")),
                       doctest::Contains("training.epochs: 3 in the file, training.epochs: 4 now"), ResumeMismatch);
  CHECK_THROWS_WITH_AS(ResultsWriter::resume(path, small_layout(), meta("training:\n  epochs: 3\n", "b 2 bytes\n")),
                       doctest::Contains("the data differs"), ResumeMismatch);
  CHECK_THROWS_WITH_AS(ResultsWriter::resume(path, small_layout(), meta("training:\n  epochs: 4\n")),
                       doctest::Contains("--overwrite"), ResumeMismatch);
}

TEST_CASE("a reader can open the file while the writer holds it open") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  auto w = make_writer(path);
  w->write_model(result_for(2), 0);
  {
    ResultsReader r(path);  // no lock conflict, and the finished model is visible
    CHECK(r.done() == std::vector<uint8_t>{0, 0, 1, 0});
    std::vector<float> block;
    r.read_signal("loss", 0, 5, block);
    CHECK(block[2 * 10] == -200.f);
  }
  w->write_model(result_for(0), 0);
  CHECK(ResultsReader(path).done() == std::vector<uint8_t>{1, 0, 1, 0});
  w->close();
}

TEST_CASE("a writer killed without closing leaves a readable file with every finished model") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto w = make_writer(path);
    w->write_model(result_for(0), 0);
    w->write_model(result_for(3), 0);
    _exit(0);  // as kill -9 would: no close, no destructors
  }
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  {
    ResultsReader r(path);
    CHECK(r.done() == std::vector<uint8_t>{1, 0, 0, 1});
    std::vector<float> block;
    r.read_signal("logit_confidence", 0, 5, block);
    CHECK(block[3 * 10 + 9] == 309.f);
  }
  auto resumed = ResultsWriter::resume(path, small_layout(), meta());
  CHECK(resumed->done() == std::vector<uint8_t>{1, 0, 0, 1});
}

TEST_CASE("group commit: staged models become done together, scattered models land in the right rows") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  ResultsLayout layout = small_layout();
  layout.models = 10000;  // far-apart models are written as separate runs
  const auto M = static_cast<size_t>(layout.models);
  std::vector<uint8_t> keep(M * 5, 0);
  const std::vector<int64_t> labels{0, 1, 2, 3, 4}, index{10, 11, 12, 13, 14};
  const std::vector<uint64_t> seeds(M, 1);
  const std::vector<int64_t> models{9999, 0, 5000, 5001, 7};
  {
    auto w = ResultsWriter::create(path, layout, meta(), keep, labels, index, seeds, ResultsWriter::Mode::kCreateNew);
    for (int64_t m : models) w->stage_model(result_for(m), static_cast<int32_t>(m % 7));
    w->record_failure(42, 3, "diverged");  // durable at once, staged models still not done
    CHECK(w->staged() == models.size());
    CHECK(ResultsReader(path).done() == std::vector<uint8_t>(M, 0));
    w->commit();
    CHECK(w->staged() == 0);
    ResultsReader r(path);
    const auto done = r.done();
    for (size_t m = 0; m < M; ++m)
      CHECK_MESSAGE(done[m] == (std::find(models.begin(), models.end(), int64_t(m)) != models.end()), "model ", m);
    const auto worker = r.model_values("worker"), acc = r.model_values("train_accuracy");
    const auto attempts = r.model_values("attempts"), failed = r.model_values("failed");
    for (int64_t m : models) {
      CHECK(worker[m] == static_cast<double>(m % 7));
      CHECK(acc[m] == doctest::Approx(0.9 + m * 0.01));
      CHECK(attempts[m] == 1.0);
    }
    CHECK(worker[1] == -1.0);  // rows in between keep their initial values
    CHECK(std::isnan(acc[6]));
    CHECK(attempts[42] == 3.0);
    CHECK(failed[42] == 1.0);
    std::vector<float> block;
    r.read_signal("loss", 0, 1, block);  // [M, 1, 2]
    CHECK(block[9999 * 2] == -999900.f);
    CHECK(block[5001 * 2 + 1] == -500101.f);
    w->close();
  }
  auto w = ResultsWriter::resume(path, layout, meta());  // the columns come back from the file
  w->write_model(result_for(6), 5);
  w->close();
  ResultsReader r(path);
  const auto worker = r.model_values("worker");
  CHECK(worker[9999] == 3.0);  // 9999 % 7
  CHECK(worker[6] == 5.0);
  CHECK(r.model_values("attempts")[42] == 3.0);
  CHECK(r.model_errors()[42] == "diverged");
}

TEST_CASE("a new file appears at its path only complete: built as .partial, whose remains a new run removes") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  const auto partial = ResultsWriter::partial_path(path);
  {
    std::ofstream(partial) << "the remains of a run killed while creating its file";
    auto w = make_writer(path);
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(partial));
    w->close();
  }
  // Rows of models not done read as NaN (the fill at creation), the done ones as written.
  {
    auto w = ResultsWriter::resume(path, small_layout(), meta());
    w->write_model(result_for(2), 0);
    w->close();
  }
  ResultsReader r(path);
  std::vector<float> rows;
  r.read_signal("logit_confidence", 0, r.candidates(), rows);
  const size_t per_model = rows.size() / static_cast<size_t>(r.models());
  for (size_t i = 0; i < rows.size(); ++i) {
    const bool model_two = i / per_model == 2;
    CHECK(std::isnan(rows[i]) != model_two);
  }
}

TEST_CASE("crash accounting: dispatches are durable, models in flight at an abnormal end count as crashed") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string();
  {
    auto w = make_writer(path);
    w->record_dispatch(0);
    w->record_dispatch(1);
    w->record_dispatch(2);
    w->commit();
    w->write_model(result_for(0), 0);  // finished: no longer running
    w->record_abandoned(2);            // given up at a requested stop: not a crash
    w->commit();
    // ...and the process dies here, with model 1 in flight (no close).
  }
  {
    auto w = ResultsWriter::resume(path, small_layout(), meta());
    CHECK(w->account_crashes() == std::vector<int64_t>{1});
    CHECK(w->crashes(1) == 1);
    CHECK(w->crashes(2) == 0);
    CHECK(w->attempts(1) == 1);
    CHECK(w->account_crashes().empty());  // counted once: the marks are cleared
    w->record_dispatch(1);
    w->commit();
  }
  auto w = ResultsWriter::resume(path, small_layout(), meta());
  CHECK(w->account_crashes() == std::vector<int64_t>{1});
  CHECK(w->crashes(1) == 2);
  CHECK(w->attempts(1) == 2);
  w->close();
  ResultsReader r(path);
  CHECK(r.model_values("crashes") == std::vector<double>{0, 2, 0, 0});
  CHECK(r.model_values("running") == std::vector<double>{0, 0, 0, 0});
}

TEST_CASE("an external target reads as model M (its keep row, signals and accuracies), and mismatches are refused") {
  TempDir dir;
  const auto path = (dir.path / "r.h5").string(), ext = (dir.path / "ext" / "t.h5").string();
  {
    auto w = make_writer(path);
    for (int64_t m = 0; m < 4; ++m) w->write_model(result_for(m), 1);
    w->close();
  }
  ResultsReader plain(path);
  ExternalTarget t;
  t.model_path = "/models/mine.pt";
  t.model_identity = "mine.pt 1 bytes";
  t.membership = {0, 1, 1, 0, 1};
  t.result = result_for(9);
  t.result.test_accuracy = 0.55;
  write_external_target(ext, plain, t);
  CHECK_FALSE(fs::exists(ext + ".partial"));

  ResultsReader r(path, ext);
  CHECK(r.models() == 5);
  CHECK(r.external_models() == 1);
  CHECK(r.external_path() == ext);
  CHECK(r.done() == std::vector<uint8_t>{1, 1, 1, 1, 1});
  const auto keep = r.keep();
  CHECK(std::vector<uint8_t>(keep.begin() + 20, keep.end()) == t.membership);
  std::vector<uint8_t> row;
  r.read_keep_row(4, row);
  CHECK(row == t.membership);
  std::vector<uint8_t> part;
  r.read_keep(1, 3, part);  // [5 models, 2 candidates]
  CHECK(part == std::vector<uint8_t>{0, 1, 1, 0, 1, 0, 0, 1, 1, 1});
  CHECK(r.signal_dims("logit_confidence") == std::vector<int64_t>{5, 5, 2});
  std::vector<float> v;
  r.read_signal("logit_confidence", 2, 4, v);  // [5, 2, 2]
  REQUIRE(v.size() == 20);
  CHECK(v[0] == 4.0f);      // model 0, candidate 2, query 0
  CHECK(v[16] == 904.0f);   // the external (result_for(9)), candidate 2, query 0
  CHECK(v[19] == 907.0f);
  CHECK(r.model_values("test_accuracy")[4] == doctest::Approx(0.55));
  CHECK(r.model_values("train_accuracy")[3] == doctest::Approx(0.93));
  CHECK(std::isnan(r.model_values("train_seconds")[4]));  // not stored for an external target

  // The file it was made for, and no other.
  const auto other = (dir.path / "other.h5").string();
  {
    ResultsLayout l = small_layout();
    l.candidates = 4;
    l.signals = {{"logit_confidence", {4, 2}}, {"loss", {4, 2}}};
    const std::vector<uint8_t> keep(16, 0);
    const std::vector<int64_t> labels{0, 1, 2, 3}, index{0, 1, 2, 3};
    const std::vector<uint64_t> seeds{1, 2, 3, 4};
    ResultsWriter::create(other, l, meta(), keep, labels, index, seeds, ResultsWriter::Mode::kCreateNew)->close();
  }
  CHECK_THROWS_WITH_AS(ResultsReader(other, ext), doctest::Contains("was not made for"), StorageError);
  const auto foreign = (dir.path / "foreign.h5").string();
  make_writer(foreign)->close();
  {  // same shape, other data files
    auto w = ResultsWriter::create((dir.path / "d.h5").string(), small_layout(), meta("x", "b 2 bytes\n"),
                                   std::vector<uint8_t>(20, 0), std::vector<int64_t>{0, 1, 2, 3, 4},
                                   std::vector<int64_t>{0, 1, 2, 3, 4}, std::vector<uint64_t>{1, 2, 3, 4},
                                   ResultsWriter::Mode::kCreateNew);
    w->close();
  }
  CHECK_THROWS_WITH_AS(ResultsReader((dir.path / "d.h5").string(), ext), doctest::Contains("other data files"),
                       StorageError);
  CHECK_NOTHROW(ResultsReader(foreign, ext));  // same candidates, queries and data: a sibling run
  t.membership = {1, 0};
  CHECK_THROWS_AS(write_external_target(ext + "2", plain, t), StorageError);
}

namespace {

// A results file of `models` models drawn with keep_scheme pairs, as `lira run` makes it:
// keep rows from the plan's blocks (here: model m's row is m's pair-complement pattern).
std::vector<uint8_t> pairs_keep(int64_t models, int64_t n) {
  std::vector<uint8_t> keep(static_cast<size_t>(models * n));
  for (int64_t m = 0; m < models; ++m)
    for (int64_t c = 0; c < n; ++c) keep[m * n + c] = static_cast<uint8_t>(((c + m / 2) % 2) ^ (m % 2));
  return keep;
}

RunMetadata pairs_meta(int64_t models, const std::string& scheme = "pairs") {
  RunMetadata m = meta("experiment:\n  models: " + std::to_string(models) + "\n  keep_scheme: " + scheme + "\n");
  m.keep_scheme = scheme;
  return m;
}

ResultsLayout layout_of(int64_t models) {
  auto l = small_layout();
  l.models = models;
  return l;
}

std::unique_ptr<ResultsWriter> make_pairs_writer(const std::string& path, int64_t models,
                                                 const std::string& scheme = "pairs") {
  const std::vector<int64_t> labels{0, 1, 2, 3, 4}, index{10, 11, 12, 13, 14};
  std::vector<uint64_t> seeds;
  for (int64_t m = 0; m < models; ++m) seeds.push_back(static_cast<uint64_t>(m + 7));
  return ResultsWriter::create(path, layout_of(models), pairs_meta(models, scheme), pairs_keep(models, 5), labels,
                               index, seeds, ResultsWriter::Mode::kCreateNew);
}

std::unique_ptr<ResultsWriter> grow_to(const std::string& path, int64_t models, const std::string& scheme = "pairs",
                                       std::vector<uint8_t> keep = {}) {
  const std::vector<int64_t> labels{0, 1, 2, 3, 4}, index{10, 11, 12, 13, 14};
  std::vector<uint64_t> seeds;
  for (int64_t m = 0; m < models; ++m) seeds.push_back(static_cast<uint64_t>(m + 7));
  if (keep.empty()) keep = pairs_keep(models, 5);
  const KeepBlocks blocks = [&](const KeepBlockSink& sink) {
    for (int64_t m = 0; m < models; m += 2) sink(m, 2, 0, 5, keep.data() + m * 5);
  };
  return ResultsWriter::grow(path, layout_of(models), pairs_meta(models, scheme), blocks, labels, index, seeds);
}

}  // namespace

TEST_CASE("the writer reads each model's keep row back from the file") {
  TempDir dir;
  auto w = make_pairs_writer((dir.path / "r.h5").string(), 6);
  const auto keep = pairs_keep(6, 5);
  std::vector<uint8_t> row;
  for (int64_t m = 0; m < 6; ++m) {
    w->read_keep_row(m, row);
    CHECK(row == std::vector<uint8_t>(keep.begin() + m * 5, keep.begin() + (m + 1) * 5));
  }
  CHECK_THROWS_AS(w->read_keep_row(6, row), StorageError);
  w->close();
  CHECK(ResultsWriter::models_in((dir.path / "r.h5").string()) == 6);
  CHECK(ResultsReader((dir.path / "r.h5").string()).attribute("keep_scheme") == "pairs");
}

TEST_CASE("growing a pairs experiment keeps every model's rows, flags and messages, and adds empty ones") {
  TempDir dir;
  const auto path = (dir.path / "g.h5").string();
  {
    auto w = make_pairs_writer(path, 4);
    w->write_model(result_for(0), 3);
    w->write_model(result_for(2), 1);
    w->record_failure(1, 2, "diverged");
    w->record_dispatch(3);  // in flight when the run ended
    w->commit();
    w->close();
  }
  ResultsWriter::check_resume(path, layout_of(8), pairs_meta(8));  // lira validate: growable
  {
    auto w = grow_to(path, 8);
    CHECK(w->path() == path);
    CHECK(w->done() == std::vector<uint8_t>{1, 0, 1, 0, 0, 0, 0, 0});
    CHECK(w->attempts(3) == 1);
    CHECK(w->account_crashes() == std::vector<int64_t>{3});  // still counted after growth
    w->write_model(result_for(6), 0);
    w->close();
  }
  CHECK_FALSE(fs::exists(ResultsWriter::partial_path(path)));
  ResultsReader r(path);
  CHECK(r.models() == 8);
  CHECK(r.done() == std::vector<uint8_t>{1, 0, 1, 0, 0, 0, 1, 0});
  CHECK(r.keep() == pairs_keep(8, 5));
  std::vector<float> conf;
  r.read_signal("logit_confidence", 0, 5, conf);
  for (int64_t m : {0, 2, 6})
    for (int i = 0; i < 10; ++i) REQUIRE(conf[m * 10 + i] == static_cast<float>(m * 100 + i));
  for (int64_t m : {1, 3, 4, 5, 7}) CHECK(std::isnan(conf[m * 10]));
  CHECK(r.model_errors()[1] == "diverged");
  CHECK(r.model_values("failed")[1] == 1.0);
  CHECK(r.model_values("worker")[2] == 1.0);
  CHECK(r.model_values("seed")[5] == 12.0);
  CHECK(r.model_values("crashes")[3] == 1.0);
}

TEST_CASE("growth is refused for shrinking, for subsets files, for other changes, and for other keep rows") {
  TempDir dir;
  const auto path = (dir.path / "g.h5").string();
  make_pairs_writer(path, 4)->close();
  CHECK_THROWS_WITH_AS(grow_to(path, 2), doctest::Contains("never shrinks"), ResumeMismatch);
  CHECK_THROWS_WITH_AS(ResultsWriter::resume(path, layout_of(2), pairs_meta(2)), doctest::Contains("never shrinks"),
                       ResumeMismatch);
  {  // another config key differs besides the number of models
    auto m = pairs_meta(8);
    m.fingerprint_config += "training:\n  epochs: 9\n";
    CHECK_THROWS_WITH_AS(ResultsWriter::check_resume(path, layout_of(8), m), doctest::Contains("training.epochs"),
                         ResumeMismatch);
  }
  auto keep = pairs_keep(8, 5);
  keep[2 * 5 + 1] ^= 1;  // model 2's row is not the file's
  CHECK_THROWS_WITH_AS(grow_to(path, 8, "pairs", keep), doctest::Contains("model 2's keep row differs"), ResumeMismatch);
  CHECK_FALSE(fs::exists(ResultsWriter::partial_path(path)));
  CHECK(ResultsWriter::models_in(path) == 4);  // the old file is untouched

  const auto subsets = (dir.path / "s.h5").string();
  make_pairs_writer(subsets, 4, "subsets")->close();
  CHECK_THROWS_WITH_AS(grow_to(subsets, 8, "subsets"), doctest::Contains("keep_scheme: subsets"), ResumeMismatch);
  CHECK(ResultsWriter::models_in(subsets) == 4);
}

TEST_CASE("a file written before training.recipe resumes under the recipe that auto gives its network") {
  TempDir dir;
  const auto path = (dir.path / "old.h5").string();
  make_writer(path)->close();  // its fingerprint: "training:\n  epochs: 3\n", no recipe line
  CHECK_NOTHROW(ResultsWriter::check_resume(path, small_layout(), meta("training:\n  recipe: \"generic\"\n  epochs: 3\n")));
  CHECK_THROWS_WITH_AS(
      ResultsWriter::check_resume(path, small_layout(), meta("training:\n  recipe: \"official\"\n  epochs: 3\n")),
      doctest::Contains("training.recipe"), ResumeMismatch);
}

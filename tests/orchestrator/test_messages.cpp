// Tests of the message encoding: round trips and rejection of malformed bytes.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/errors.hpp"
#include "orchestrator/messages.hpp"

using namespace lira;

TEST_CASE("a job assignment round-trips") {
  JobAssignment j{17, 0xDEADBEEFCAFEull, 2, {1, 0, 1, 1, 0}};
  auto bytes = encode(CoordinatorMessage{j});
  auto back = std::get<JobAssignment>(decode_coordinator_message(bytes.data(), bytes.size()));
  CHECK(back.model == 17);
  CHECK(back.seed == 0xDEADBEEFCAFEull);
  CHECK(back.attempt == 2);
  CHECK(back.keep_row == j.keep_row);
  CHECK_FALSE(back.direct.enabled());
  // With the results file's row targets (parallel.result_writes: worker).
  j.direct = {"/scratch/x.h5", 4096, {1, 2, 3, 4}, {{"logit_confidence", 8192, 80}, {"loss", 100000, 80}}};
  bytes = encode(CoordinatorMessage{j});
  back = std::get<JobAssignment>(decode_coordinator_message(bytes.data(), bytes.size()));
  CHECK(back.direct.path == "/scratch/x.h5");
  CHECK(back.direct.nonce_offset == 4096);
  CHECK(back.direct.nonce == j.direct.nonce);
  REQUIRE(back.direct.signals.size() == 2);
  CHECK(back.direct.signals[1].name == "loss");
  CHECK(back.direct.signals[1].offset == 100000);
  CHECK(back.direct.signals[1].row_bytes == 80);
  CHECK(back.keep_row == j.keep_row);
  const auto stop = encode(CoordinatorMessage{StopWorker{}});
  CHECK(std::holds_alternative<StopWorker>(decode_coordinator_message(stop.data(), stop.size())));
}

TEST_CASE("a model result round-trips with its signals") {
  ModelResult r;
  r.model = 3;
  r.attempt = 1;
  r.train_accuracy = 0.99;
  r.test_accuracy = 0.85;
  r.train_seconds = 12.5;
  r.signals = {{"logit_confidence", {2, 2}, {1.f, -2.f, 3.5f, 1e30f}}, {"loss", {2, 2}, {0.f, 1.f, 2.f, 3.f}}};
  const auto bytes = encode(WorkerMessage{r});
  const auto back = std::get<ModelResult>(decode_worker_message(bytes.data(), bytes.size()));
  CHECK(back.model == 3);
  CHECK(back.attempt == 1);
  CHECK(back.test_accuracy == 0.85);
  REQUIRE(back.signals.size() == 2);
  CHECK(back.signals[0].name == "logit_confidence");
  CHECK(back.signals[0].shape == std::vector<int64_t>{2, 2});
  CHECK(back.signals[0].values == r.signals[0].values);
  CHECK_FALSE(back.written);
  // Written by the worker: names and shapes travel, the values do not.
  for (auto& s : r.signals) s.values.clear();
  r.written = true;
  const auto small = encode(WorkerMessage{r});
  CHECK(small.size() < bytes.size());
  const auto written = std::get<ModelResult>(decode_worker_message(small.data(), small.size()));
  CHECK(written.written);
  CHECK(written.signals[1].shape == std::vector<int64_t>{2, 2});
  CHECK(written.signals[1].values.empty());
}

TEST_CASE("failures and hellos round-trip") {
  const auto f = encode(WorkerMessage{JobFailure{5, 0, "loss became nan", true, false}});
  const auto fb = std::get<JobFailure>(decode_worker_message(f.data(), f.size()));
  CHECK(fb.message == "loss became nan");
  CHECK(fb.retire);
  CHECK(!fb.deterministic);
  const auto d = encode(WorkerMessage{JobFailure{6, 1, "training.batch_size: 1024 leaves no full batch", false, true}});
  const auto db = std::get<JobFailure>(decode_worker_message(d.data(), d.size()));
  CHECK(!db.retire);
  CHECK(db.deterministic);
  const auto h = encode(WorkerMessage{WorkerReady{"node7", 1234}});
  const auto hb = std::get<WorkerReady>(decode_worker_message(h.data(), h.size()));
  CHECK(hb.host == "node7");
  CHECK(hb.pid == 1234);
}

TEST_CASE("every truncation of a valid message is rejected, never read past the end") {
  ModelResult r;
  r.signals = {{"loss", {3}, {1.f, 2.f, 3.f}}};
  const auto bytes = encode(WorkerMessage{r});
  for (size_t len = 0; len < bytes.size(); ++len)
    CHECK_THROWS_AS(decode_worker_message(bytes.data(), len), CommError);
  auto extra = bytes;
  extra.push_back(std::byte{0});
  CHECK_THROWS_AS(decode_worker_message(extra.data(), extra.size()), CommError);
  auto bad = bytes;
  bad[0] = std::byte{0};
  CHECK_THROWS_WITH_AS(decode_worker_message(bad.data(), bad.size()), doctest::Contains("magic"), CommError);
}

TEST_CASE("a worker message is not accepted as a coordinator message") {
  const auto bytes = encode(WorkerMessage{WorkerReady{"h", 1}});
  CHECK_THROWS_AS(decode_coordinator_message(bytes.data(), bytes.size()), CommError);
}

TEST_CASE("a pack of jobs round-trips, and a count past its bytes is refused") {
  JobPack pack{{{4, 11, 0, {1, 0, 1}}, {5, 12, 0, {0, 1, 1}}, {6, 13, 0, {1, 1, 0}}}};
  const auto bytes = encode(CoordinatorMessage{pack});
  const auto back = std::get<JobPack>(decode_coordinator_message(bytes.data(), bytes.size()));
  REQUIRE(back.jobs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(back.jobs[i].model == pack.jobs[i].model);
    CHECK(back.jobs[i].seed == pack.jobs[i].seed);
    CHECK(back.jobs[i].keep_row == pack.jobs[i].keep_row);
  }
  auto cut = bytes;
  cut.resize(cut.size() - 5);
  CHECK_THROWS_AS(decode_coordinator_message(cut.data(), cut.size()), CommError);
  auto huge = bytes;
  const uint64_t count = uint64_t{1} << 40;  // the count follows magic (4), version (2), tag (1)
  std::memcpy(huge.data() + 7, &count, sizeof count);
  CHECK_THROWS_AS(decode_coordinator_message(huge.data(), huge.size()), CommError);
}

TEST_CASE("the fuzzer's message seeds decode: the corpus follows the wire version") {
  namespace fs = std::filesystem;
  int seeds = 0;
  for (const auto& entry : fs::directory_iterator(LIRA_MESSAGE_CORPUS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto* data = reinterpret_cast<const std::byte*>(raw.data());
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    if (name == "job" || name == "pack") {
      CHECK_NOTHROW(decode_coordinator_message(data, raw.size()));
    } else {
      CHECK_NOTHROW(decode_worker_message(data, raw.size()));
    }
    ++seeds;
  }
  CHECK(seeds >= 6);
}

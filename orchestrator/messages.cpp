// Implements the byte encoding of messages.hpp.
#include "messages.hpp"

#include <cstring>
#include <type_traits>

#include "common/errors.hpp"

namespace lira {
namespace {

constexpr uint32_t kMagic = 0x4152494C;  // "LIRA"
constexpr uint16_t kWireVersion = 6;  // 2: JobFailure.retire; 3: JobPack; 4: DirectRows, ModelResult.written; 5: JobFailure.deterministic, SignalArray.checksum; 6: ModelResult.pack
enum class Tag : uint8_t { kJob = 1, kStop = 2, kReady = 3, kResult = 4, kFailure = 5, kHeartbeat = 6, kPack = 7 };

class Writer {
 public:
  explicit Writer(Tag tag) {
    buf_.reserve(64);
    put(kMagic);
    put(kWireVersion);
    put(static_cast<uint8_t>(tag));
  }
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&v, sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put(static_cast<uint64_t>(v.size()));
    append(v.data(), v.size() * sizeof(T));
  }
  void put_string(const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    append(s.data(), s.size());
  }
  std::vector<std::byte> take() { return std::move(buf_); }

 private:
  void append(const void* data, size_t bytes) {
    if (bytes == 0) return;
    const size_t at = buf_.size();
    buf_.resize(at + bytes);
    std::memcpy(buf_.data() + at, data, bytes);
  }
  std::vector<std::byte> buf_;
};

class Reader {
 public:
  Reader(const std::byte* data, size_t size) : p_(data), end_(data + size) {}
  Tag header() {
    if (get<uint32_t>() != kMagic) throw CommError("malformed message: bad magic number");
    if (const auto v = get<uint16_t>(); v != kWireVersion)
      throw CommError("message of wire version " + std::to_string(v) + ", expected " +
                      std::to_string(kWireVersion) + ": are all ranks the same lira build?");
    return static_cast<Tag>(get<uint8_t>());
  }
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    const uint64_t n = get<uint64_t>();
    if (n > static_cast<uint64_t>(end_ - p_) / sizeof(T)) throw CommError("malformed message: array past the end");
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), p_, n * sizeof(T));  // (an empty vector's data() may be null)
    p_ += n * sizeof(T);
    return v;
  }
  std::string get_string() {
    const uint64_t n = get<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  void finish() const {
    if (p_ != end_) throw CommError("malformed message: " + std::to_string(end_ - p_) + " trailing bytes");
  }

 private:
  void need(uint64_t n) const {
    if (n > static_cast<uint64_t>(end_ - p_)) throw CommError("malformed message: truncated");
  }
  const std::byte* p_;
  const std::byte* end_;
};

}  // namespace

namespace {
void put_job(Writer& w, const JobAssignment& job) {
  w.put(job.model);
  w.put(job.seed);
  w.put(job.attempt);
  w.put_vector(job.keep_row);
  w.put_string(job.direct.path);
  w.put(job.direct.nonce_offset);
  w.put_vector(job.direct.nonce);
  w.put(static_cast<uint64_t>(job.direct.signals.size()));
  for (const auto& t : job.direct.signals) {
    w.put_string(t.name);
    w.put(t.offset);
    w.put(t.row_bytes);
  }
}
JobAssignment get_job(Reader& r) {
  JobAssignment job;
  job.model = r.get<int64_t>();
  job.seed = r.get<uint64_t>();
  job.attempt = r.get<int32_t>();
  job.keep_row = r.get_vector<uint8_t>();
  job.direct.path = r.get_string();
  job.direct.nonce_offset = r.get<uint64_t>();
  job.direct.nonce = r.get_vector<uint8_t>();
  const auto targets = r.get<uint64_t>();
  for (uint64_t i = 0; i < targets; ++i) {
    RowTarget t;
    t.name = r.get_string();  // throws on a count past the message's end
    t.offset = r.get<uint64_t>();
    t.row_bytes = r.get<uint64_t>();
    job.direct.signals.push_back(std::move(t));
  }
  return job;
}
}  // namespace

std::vector<std::byte> encode(const CoordinatorMessage& m) {
  if (const auto* job = std::get_if<JobAssignment>(&m)) {
    Writer w(Tag::kJob);
    put_job(w, *job);
    return w.take();
  }
  if (const auto* pack = std::get_if<JobPack>(&m)) {
    Writer w(Tag::kPack);
    w.put(static_cast<uint64_t>(pack->jobs.size()));
    for (const auto& job : pack->jobs) put_job(w, job);
    return w.take();
  }
  return Writer(Tag::kStop).take();
}

std::vector<std::byte> encode(const WorkerMessage& m) {
  if (const auto* r = std::get_if<WorkerReady>(&m)) {
    Writer w(Tag::kReady);
    w.put_string(r->host);
    w.put(r->pid);
    return w.take();
  }
  if (const auto* r = std::get_if<ModelResult>(&m)) {
    Writer w(Tag::kResult);
    w.put(r->model);
    w.put(r->attempt);
    w.put(r->train_accuracy);
    w.put(r->test_accuracy);
    w.put(r->train_seconds);
    w.put(r->dp_epsilon);
    w.put(r->dp_noise_multiplier);
    w.put(r->pack);
    w.put(static_cast<uint64_t>(r->signals.size()));
    for (const auto& s : r->signals) {
      w.put_string(s.name);
      w.put_vector(s.shape);
      w.put_vector(s.values);
      w.put(s.checksum);
    }
    w.put(static_cast<uint8_t>(r->written ? 1 : 0));
    return w.take();
  }
  if (const auto* h = std::get_if<Heartbeat>(&m)) {
    Writer w(Tag::kHeartbeat);
    w.put(h->model);
    w.put(h->attempt);
    return w.take();
  }
  const auto& f = std::get<JobFailure>(m);
  Writer w(Tag::kFailure);
  w.put(f.model);
  w.put(f.attempt);
  w.put_string(f.message);
  w.put(static_cast<uint8_t>(f.retire ? 1 : 0));
  w.put(static_cast<uint8_t>(f.deterministic ? 1 : 0));
  return w.take();
}

CoordinatorMessage decode_coordinator_message(const std::byte* data, size_t size) {
  Reader r(data, size);
  switch (r.header()) {
    case Tag::kJob: {
      JobAssignment job = get_job(r);
      r.finish();
      return job;
    }
    case Tag::kPack: {
      JobPack pack;
      const auto count = r.get<uint64_t>();
      // Each job takes at least its fixed fields: a count past that is malformed.
      if (count > size / 24) throw CommError("malformed message: job count");
      for (uint64_t i = 0; i < count; ++i) pack.jobs.push_back(get_job(r));
      r.finish();
      return pack;
    }
    case Tag::kStop:
      r.finish();
      return StopWorker{};
    default:
      throw CommError("unexpected message type from the coordinator");
  }
}

WorkerMessage decode_worker_message(const std::byte* data, size_t size) {
  Reader r(data, size);
  switch (r.header()) {
    case Tag::kReady: {
      WorkerReady m;
      m.host = r.get_string();
      m.pid = r.get<int64_t>();
      r.finish();
      return m;
    }
    case Tag::kResult: {
      ModelResult m;
      m.model = r.get<int64_t>();
      m.attempt = r.get<int32_t>();
      m.train_accuracy = r.get<double>();
      m.test_accuracy = r.get<double>();
      m.train_seconds = r.get<double>();
      m.dp_epsilon = r.get<double>();
      m.dp_noise_multiplier = r.get<double>();
      m.pack = r.get<int32_t>();
      const auto count = r.get<uint64_t>();
      if (count > size) throw CommError("malformed message: signal count");
      for (uint64_t i = 0; i < count; ++i) {
        SignalArray s;
        s.name = r.get_string();
        s.shape = r.get_vector<int64_t>();
        s.values = r.get_vector<float>();
        s.checksum = r.get<uint64_t>();
        m.signals.push_back(std::move(s));
      }
      m.written = r.get<uint8_t>() != 0;
      r.finish();
      return m;
    }
    case Tag::kHeartbeat: {
      Heartbeat m;
      m.model = r.get<int64_t>();
      m.attempt = r.get<int32_t>();
      r.finish();
      return m;
    }
    case Tag::kFailure: {
      JobFailure m;
      m.model = r.get<int64_t>();
      m.attempt = r.get<int32_t>();
      m.message = r.get_string();
      m.retire = r.get<uint8_t>() != 0;
      m.deterministic = r.get<uint8_t>() != 0;
      r.finish();
      return m;
    }
    default:
      throw CommError("unexpected message type from a worker");
  }
}

}  // namespace lira

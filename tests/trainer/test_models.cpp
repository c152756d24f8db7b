// Tests of the architectures, augmentations and queries on tiny tensors.
#include "../torch_doctest.hpp"  // first: see there

#include "common/config.hpp"
#include "common/errors.hpp"
#include "trainer/augment.hpp"
#include "trainer/lm.hpp"
#include "trainer/network.hpp"

using namespace lira;

namespace {
int64_t parameter_count(Network& net) {
  int64_t n = 0;
  for (auto& [name, p] : net.named_parameters()) n += p.numel();
  return n;
}
ModelConfig model(const std::string& arch) {
  return parse_config("", "test", {"model.arch=" + arch}).model;
}
}  // namespace

TEST_CASE("each architecture maps a batch of images to logits and back-propagates") {
  torch::manual_seed(0);
  NetworkInputs in{{3, 32, 32}, 10, torch::randn({64, 3, 32, 32})};
  for (const char* arch : {"mlp", "cnn", "wrn16-4", "wrn28-2", "resnet18", "airbench", "airbench94"}) {
    CAPTURE(arch);
    auto net = build_network(model(arch), in);
    net->set_training(true);
    const auto out = net->forward(torch::randn({2, 3, 32, 32}));
    CHECK(out.sizes() == torch::IntArrayRef({2, 10}));
    out.sum().backward();
    for (auto& [name, p] : net->named_parameters()) REQUIRE(p.grad().defined());
  }
}

TEST_CASE("parameter counts match the published architectures") {
  NetworkInputs in{{3, 32, 32}, 10, torch::randn({16, 3, 32, 32})};
  // WRN-28-2 on CIFAR-10: 1,467,610 parameters (e.g. FixMatch's reference); ResNet-18
  // (CIFAR variant): 11,173,962.
  CHECK(parameter_count(*build_network(model("wrn28-2"), in)) == 1467610);
  CHECK(parameter_count(*build_network(model("resnet18"), in)) == 11173962);
  CHECK(parameter_count(*build_network(model("wrn16-4"), in)) == 2748890);
}

TEST_CASE("airbench's frozen first layer whitens 2x2 patches") {
  torch::manual_seed(1);
  // Correlated channels: the whitening must decorrelate them.
  const auto base = torch::randn({256, 1, 16, 16});
  const auto images =
      torch::cat({base, base * 0.9 + 0.1 * torch::randn({256, 1, 16, 16}), torch::randn({256, 1, 16, 16})}, 1);
  const auto filters = patch_whitening_filters(images, 2, 1e-6);
  CHECK(filters.sizes() == torch::IntArrayRef({24, 3, 2, 2}));
  const auto responses = torch::conv2d(images, filters.slice(0, 0, 12)).to(torch::kFloat64);  // [n, 12, 15, 15]
  auto flat = responses.permute({0, 2, 3, 1}).reshape({-1, 12});
  flat = flat - flat.mean(0, true);
  const auto cov = flat.t().mm(flat) / flat.size(0);
  CHECK(torch::allclose(cov, torch::eye(12, torch::kFloat64), 1e-3, 1e-3));
  CHECK(torch::equal(filters.slice(0, 12, 24), -filters.slice(0, 0, 12)));
  NetworkInputs in{{3, 16, 16}, 10, images};
  auto net = build_network(model("airbench"), in);
  for (auto& [name, p] : net->named_parameters()) CHECK(name.find("whiten") == std::string::npos);  // frozen
}

TEST_CASE("an architecture that cannot fit the data is a ConfigError") {
  NetworkInputs table{{20}, 3, {}};
  CHECK_THROWS_AS(build_network(model("resnet18"), table), ConfigError);
  CHECK(build_network(model("mlp"), table)->forward(torch::zeros({4, 20})).size(1) == 3);
  NetworkInputs tiny{{3, 8, 8}, 10, torch::zeros({4, 3, 8, 8})};
  CHECK_THROWS_AS(build_network(model("airbench"), tiny), ConfigError);
}

TEST_CASE("augment_batch: flips and crops are per image, shapes kept, off means identity") {
  torch::manual_seed(2);
  const auto x = torch::arange(2 * 1 * 4 * 4, torch::kFloat32).view({2, 1, 4, 4});
  CHECK(torch::equal(augment_batch(x, false, 0), x));
  const auto flipped = augment_batch(torch::arange(64 * 16, torch::kFloat32).view({64, 1, 4, 4}), true, 0);
  int same = 0, mirrored = 0;
  const auto orig = torch::arange(64 * 16, torch::kFloat32).view({64, 1, 4, 4});
  for (int i = 0; i < 64; ++i) {
    same += torch::equal(flipped[i], orig[i]);
    mirrored += torch::equal(flipped[i], orig[i].flip({2}));
  }
  CHECK(same + mirrored == 64);
  CHECK(same > 10);
  CHECK(mirrored > 10);
  // A crop is a translation with reflect padding: every output row is a row of the padded image.
  const auto cropped = augment_batch(x, false, 1);
  CHECK(cropped.sizes() == x.sizes());
  const auto padded = torch::reflection_pad2d(x, {1, 1, 1, 1});
  for (int i = 0; i < 2; ++i) {
    bool found = false;
    for (int oy = 0; oy < 3; ++oy)
      for (int ox = 0; ox < 3; ++ox)
        found = found || torch::equal(cropped[i], padded[i].slice(1, oy, oy + 4).slice(2, ox, ox + 4));
    CHECK(found);
  }
}

TEST_CASE("queries: mirror, then a reflect-padded translation, in the reference code's order") {
  const auto x = torch::arange(16, torch::kFloat32).view({1, 1, 4, 4});
  CHECK(torch::equal(apply_query(x, {true, 0, 0, "mirror"}), x.flip({3})));
  // Shift by (dy, dx) = (1, -1): output[r][c] = padded[r + 1 + 1][c + 1 - 1].
  const auto padded = torch::reflection_pad2d(x, {1, 1, 1, 1});
  CHECK(torch::equal(apply_query(x, {false, 1, -1, "s"}), padded.slice(2, 2, 6).slice(3, 0, 4)));
  const auto specs = parse_config("", "t", {"queries.shift=1"}).query_specs();
  REQUIRE(specs.size() == 18);  // the paper's 2 flips x 9 shifts
  CHECK(specs[0].name == "identity(-1,-1)");
  CHECK(specs[1].name == "identity(-1,0)");
  CHECK(specs[4].name == "identity(0,0)");
  CHECK(specs[9].name == "mirror(-1,-1)");
  CHECK(parse_config("", "t", {"queries.shift=2", "queries.shift_stride=2", "queries.mirror=false"}).query_specs().size() == 9);
}

TEST_CASE("per-token log-probs, mu and sigma equal a direct computation from the logits") {
  torch::manual_seed(3);
  const auto logits = torch::randn({7, 257}) * 3.0;
  const auto targets = torch::randint(0, 257, {7}, torch::kInt64);
  const auto s = lira::token_stats(logits, targets);
  for (int64_t t = 0; t < 7; ++t) {
    // By hand, in double: log p_v = z_v - log sum exp z.
    const auto z = logits[t].to(torch::kFloat64);
    double mx = z.max().item<double>(), sum = 0;
    for (int64_t v = 0; v < 257; ++v) sum += std::exp(z[v].item<double>() - mx);
    const double lse = mx + std::log(sum);
    double mu = 0, second = 0;
    for (int64_t v = 0; v < 257; ++v) {
      const double lp = z[v].item<double>() - lse, p = std::exp(lp);
      mu += p * lp;
      second += p * lp * lp;
    }
    CHECK(s.logprob[t].item<double>() == doctest::Approx(z[targets[t].item<int64_t>()].item<double>() - lse).epsilon(1e-12));
    CHECK(s.mu[t].item<double>() == doctest::Approx(mu).epsilon(1e-12));
    CHECK(s.sigma[t].item<double>() == doctest::Approx(std::sqrt(second - mu * mu)).epsilon(1e-9));
  }
}

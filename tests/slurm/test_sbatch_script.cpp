// The sbatch script renderer: directives, the rank layout, quoting of every value that
// comes from a config or a path, and refusal of values that cannot go into #SBATCH lines.
// tests/slurm/quoting.sh runs a rendered script with hostile values under bash.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "common/errors.hpp"
#include "slurm/sbatch_script.hpp"

using namespace lira::slurm;

namespace {

ScriptSpec spec() {
  ScriptSpec s;
  s.lira = "/opt/lira/bin/lira";
  s.workdir = "/home/me/exp";
  s.config = "/home/me/exp/configs/cifar.yaml";
  s.results = "/scratch/me/results/cifar.h5";
  s.script = "/scratch/me/results/cifar.sbatch";
  s.experiment = "cifar";
  s.version = "0.1.0";
  return s;
}

std::vector<std::string> directives(const std::string& script) {
  std::vector<std::string> out;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#SBATCH ", 0) == 0) out.push_back(line.substr(8));
    if (!line.empty() && line[0] != '#') break;  // sbatch stops reading directives here
  }
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("shell_quote makes one literal word of anything") {
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("$(touch x)`y`\n\"z\"") == "'$(touch x)`y`\n\"z\"'");
}

TEST_CASE("names are sanitized and #SBATCH values are checked") {
  CHECK(sanitize_name("cifar-10.v2_a") == "cifar-10.v2_a");
  CHECK(sanitize_name("a b$(x)\n") == "a_b__x__");
  CHECK(sanitize_name("") == "lira");
  CHECK(sanitize_name(std::string(100, 'x')).size() == 64);
  CHECK(safe_directive_value("gpu"));
  CHECK(safe_directive_value("1-00:00:00"));
  CHECK(safe_directive_value("a100&ib"));
  CHECK_FALSE(safe_directive_value(""));
  CHECK_FALSE(safe_directive_value("gpu\n#SBATCH --x"));
  CHECK_FALSE(safe_directive_value("gpu part"));
  CHECK_FALSE(safe_directive_value("$(id)"));
  CHECK_FALSE(safe_directive_value("a'b"));
  CHECK_FALSE(safe_directive_value("50%"));
}

TEST_CASE("the script asks for workers plus the coordinator's slot, a signal before the limit and requeue") {
  auto s = spec();
  s.nodes = 2;
  s.workers_per_node = 4;
  s.gpus_per_node = 4;
  s.cpus_per_task = 8;
  s.mem = "128G";
  s.time = "4:00:00";
  s.partition = "gpu";
  s.account = "proj1";
  s.qos = "normal";
  s.constraint = "a100&ib";
  s.signal_seconds = 150;
  s.sbatch_lines = {"--exclusive"};
  const auto text = render_script(s);
  const auto d = directives(text);
  CHECK(text.rfind("#!/bin/bash\n", 0) == 0);
  CHECK(has(d, "--job-name=lira-cifar"));
  CHECK(has(d, "--nodes=2"));
  CHECK(has(d, "--ntasks-per-node=5"));
  CHECK(has(d, "--gpus-per-node=4"));
  CHECK(has(d, "--cpus-per-task=8"));
  CHECK(has(d, "--mem=128G"));
  CHECK(has(d, "--time=4:00:00"));
  CHECK(has(d, "--partition=gpu"));
  CHECK(has(d, "--account=proj1"));
  CHECK(has(d, "--qos=normal"));
  CHECK(has(d, "--constraint=a100&ib"));
  CHECK(has(d, "--output=/scratch/me/results/cifar.h5.slurm-%j.out"));
  CHECK(has(d, "--open-mode=append"));
  CHECK(has(d, "--requeue"));
  CHECK(has(d, "--signal=B:USR1@150"));
  CHECK(has(d, "--exclusive"));
  CHECK_FALSE(has(d, "--overcommit"));
  CHECK(text.find("WORKERS_PER_NODE=4\n") != std::string::npos);
  CHECK(text.find("RUN=(\"$LIRA\" run '/home/me/exp/configs/cifar.yaml' --out \"$RESULTS\")") != std::string::npos);
}

TEST_CASE("overrides are passed on quoted and an unsafe results directory gives a relative log path") {
  auto s = spec();
  s.overrides = {"training.epochs=5", "experiment.name=x'; rm -rf ~; '"};
  s.results = "/scratch/a b/$(id)/r.h5";
  s.overcommit = true;
  const auto text = render_script(s);
  CHECK(text.find(" --set 'training.epochs=5' --set 'experiment.name=x'\\''; rm -rf ~; '\\'''") != std::string::npos);
  const auto d = directives(text);
  CHECK(has(d, "--output=r.h5.slurm-%j.out"));
  CHECK(has(d, "--overcommit"));
  CHECK(has(d, "--ntasks=2"));
  CHECK(text.find("RESULTS='/scratch/a b/$(id)/r.h5'\n") != std::string::npos);
  // The log's absolute, unmangled path travels on sbatch's command line (the chain's too).
  CHECK(text.find("LOG='/scratch/a b/$(id)/r.h5.slurm-%j.out'\n") != std::string::npos);
  CHECK(text.find("--output=\"$LOG\"") != std::string::npos);
  CHECK(log_path("/x/100%done.h5") == "/x/100%%done.h5.slurm-%j.out");
}

TEST_CASE("values that cannot go into #SBATCH lines are refused with the option's name") {
  auto s = spec();
  s.partition = "gpu\nrm -rf /";
  CHECK_THROWS_WITH_AS(render_script(s), doctest::Contains("--partition"), lira::ConfigError);
  s = spec();
  s.sbatch_lines = {"--comment=$(id)"};
  CHECK_THROWS_WITH_AS(render_script(s), doctest::Contains("--sbatch"), lira::ConfigError);
  s = spec();
  s.sbatch_lines = {"exclusive"};
  CHECK_THROWS_AS(render_script(s), lira::ConfigError);
  s = spec();
  s.launcher = "ssh";
  CHECK_THROWS_WITH_AS(render_script(s), doctest::Contains("--launcher"), lira::ConfigError);
  s = spec();
  s.results = "relative.h5";
  CHECK_THROWS_AS(render_script(s), lira::ConfigError);
}

TEST_CASE("the experiment name reaches the script only sanitized") {
  auto s = spec();
  s.experiment = "x\n#SBATCH --wrap=id $(touch /tmp/p) `id` \"q\" 'q'";
  const auto text = render_script(s);
  CHECK(text.find("$(touch") == std::string::npos);
  CHECK(text.find("`id`") == std::string::npos);
  for (const auto& d : directives(text)) CHECK(d.rfind("--wrap", 0) == std::string::npos);
  const auto d = directives(text);
  REQUIRE(!d.empty());
  CHECK(d[0].rfind("--job-name=lira-x__SBATCH_--wrap_id___touch__tmp_p", 0) == 0);
  CHECK(safe_directive_value(d[0]));
}

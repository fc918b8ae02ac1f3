#include "pipeline/run_log.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>

namespace mailgate::pipeline {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RunLog::RunLog(store::Store* store, std::string job, std::string subject, Echo echo)
    : store_(store), job_(std::move(job)), subject_(std::move(subject)), echo_(std::move(echo)) {}

RunLog::~RunLog() {
  Status s = Flush();
  if (!s.ok()) spdlog::warn("could not save the log of a {} run: {}", job_, s.ToString());
}

Status RunLog::Start() {
  if (store_ == nullptr) return Status::Ok();
  auto id = store_->StartRun(job_, subject_, NowMs() / 1000);
  if (!id.ok()) return id.status().WithContext("recording the start of a " + job_ + " run");
  run_id_ = *id;
  return Status::Ok();
}

void RunLog::Add(std::string_view level, std::string text) {
  store::RunLogLine line{NowMs(), std::string(level), std::move(text)};
  if (echo_) echo_(line);
  if (level == "error") {
    spdlog::error("[{} {}] {}", job_, subject_, line.text);
  } else if (level == "warning") {
    spdlog::warn("[{} {}] {}", job_, subject_, line.text);
  } else {
    spdlog::debug("[{} {}] {}", job_, subject_, line.text);
  }
  all_.push_back(line);
  pending_.push_back(std::move(line));
}

Status RunLog::Flush() {
  if (store_ == nullptr || run_id_ == 0 || pending_.empty()) return Status::Ok();
  Status s = store_->AppendRunLog(run_id_, pending_);
  if (!s.ok()) return s.WithContext("saving the run log");
  pending_.clear();
  return Status::Ok();
}

Status RunLog::Finish(bool ok, std::string_view summary) {
  MAILGATE_RETURN_IF_ERROR(Flush());
  if (store_ == nullptr || run_id_ == 0) return Status::Ok();
  return store_->FinishRun(run_id_, ok ? "ok" : "failed", summary, NowMs() / 1000)
      .WithContext("recording the end of a " + job_ + " run");
}

std::string FormatDuration(std::chrono::steady_clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms < 10'000) return std::to_string(ms) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  char buf[32];
  if (bytes < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%llu KB",
                  static_cast<unsigned long long>((bytes + 512) / 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  }
  return buf;
}

}  // namespace mailgate::pipeline

// bench_measure: runs a command and reports what it cost, for bench/run.
//
//   bench_measure REPORT_FILE -- COMMAND [ARGS...]
//
// Writes "exit=S wall=SECONDS cpu=SECONDS maxrss_kb=KB" to REPORT_FILE and
// exits with the command's status. Why not os.wait4 straight from Python: Linux
// keeps a process's peak RSS across exec, so a child forked from the harness
// starts with the Python interpreter's ~17 MB already on its record. Forked
// from this small program instead, the command's peak is its own. The rusage
// covers the command and every descendant it waited for (an MDA per message).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

int main(int argc, char** argv) {
  if (argc < 4 || std::strcmp(argv[2], "--") != 0) {
    std::fprintf(stderr, "usage: bench_measure REPORT_FILE -- COMMAND [ARGS...]\n");
    return 2;
  }
  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("bench_measure: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[3], argv + 3);
    std::fprintf(stderr, "bench_measure: exec %s: %s\n", argv[3], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      std::perror("bench_measure: wait4");
      return 2;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = static_cast<double>(t1.tv_sec - t0.tv_sec) +
                static_cast<double>(t1.tv_nsec - t0.tv_nsec) / 1e9;
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::FILE* f = std::fopen(argv[1], "w");
  if (!f) {
    std::perror("bench_measure: report file");
    return 2;
  }
  std::fprintf(f, "exit=%d wall=%.6f cpu=%.6f maxrss_kb=%ld\n", code, wall, cpu, ru.ru_maxrss);
  std::fclose(f);
  return code;
}

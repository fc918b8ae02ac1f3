// The floor of the processing benchmark: a bare GMime parse of every file in
// a directory, nothing kept. What `mailgate process` does beyond this
// (charset conversion, attachments, threading, one store transaction per
// batch, removing the spool file) is its cost over the floor.
//
//   bench_parse_floor DIR      prints "parsed=N failed=M bytes=B"
#include <fcntl.h>
#include <gmime/gmime.h>

#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_parse_floor DIR\n");
    return 2;
  }
  g_mime_init();
  long parsed = 0, failed = 0;
  unsigned long long bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    if (!e.is_regular_file()) continue;
    GMimeStream* stream = g_mime_stream_fs_open(e.path().c_str(), O_RDONLY, 0, nullptr);
    if (stream == nullptr) {
      ++failed;
      continue;
    }
    bytes += e.file_size();
    GMimeParser* parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage* message = g_mime_parser_construct_message(parser, nullptr);
    if (message != nullptr) {
      ++parsed;
      g_object_unref(message);
    } else {
      ++failed;
    }
    g_object_unref(parser);
    g_object_unref(stream);
  }
  std::printf("parsed=%ld failed=%ld bytes=%llu\n", parsed, failed, bytes);
  g_mime_shutdown();
  return failed == 0 ? 0 : 1;
}

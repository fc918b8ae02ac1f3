// The floors of the processing benchmark: a bare GMime parse of every file in
// a directory, nothing kept. What `mailgate process` does beyond this
// (charset conversion, attachments, threading, one store transaction per
// batch, removing the spool file) is its cost over the floor.
//
//   bench_parse_floor DIR            prints "parsed=N failed=M bytes=B"
//   bench_parse_floor --decode DIR   the same, and also decodes every leaf part
//                                    (base64, quoted-printable) into a null stream
//
// The plain form is lazy: g_mime_parser_construct_message only finds the part
// boundaries and never decodes a body, which a processor that stores text and
// attachments cannot skip. --decode is the fairer floor for that work.
#include <fcntl.h>
#include <gmime/gmime.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace {

void DecodePart(GMimeObject*, GMimeObject* part, gpointer sink) {
  if (!GMIME_IS_PART(part)) return;
  GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(part));
  if (content != nullptr) {
    g_mime_data_wrapper_write_to_stream(content, static_cast<GMimeStream*>(sink));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool decode = argc == 3 && std::strcmp(argv[1], "--decode") == 0;
  if (argc != 2 && !decode) {
    std::fprintf(stderr, "usage: bench_parse_floor [--decode] DIR\n");
    return 2;
  }
  const char* dir = argv[argc - 1];
  g_mime_init();
  GMimeStream* null_sink = g_mime_stream_null_new();
  long parsed = 0, failed = 0;
  unsigned long long bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
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
      if (decode) g_mime_message_foreach(message, DecodePart, null_sink);
      g_object_unref(message);
    } else {
      ++failed;
    }
    g_object_unref(parser);
    g_object_unref(stream);
  }
  g_object_unref(null_sink);
  std::printf("parsed=%ld failed=%ld bytes=%llu\n", parsed, failed, bytes);
  g_mime_shutdown();
  return failed == 0 ? 0 : 1;
}

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "logging.hpp"
#include "metrics_registry.hpp"
#include "net/file_reader.hpp"
#include "thread_host.hpp"

namespace palaver::host::net {
namespace {

std::string TempFile(const std::string& content) {
  auto path = std::filesystem::temp_directory_path() / ("palaver-file-reader-" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

TEST(FileReaders, ReadsChunksOnTheFileThreadsAndKeepsTheFileOpen) {
  MetricsRegistry metrics;
  ThreadRegistry reg(metrics, GetLogger("test"));
  auto threads = reg.For("host");
  FileReaders readers;
  ASSERT_TRUE(readers.Start(*threads, 2));
  std::string content(300000, 'x');
  content[299999] = 'y';
  std::string path = TempFile(content);

  std::promise<std::pair<FileChunk, std::thread::id>> first;
  readers.Read(nullptr, path, 0, 1000, [&](FileChunk c) { first.set_value({std::move(c), std::this_thread::get_id()}); });
  auto [chunk, on] = first.get_future().get();
  EXPECT_NE(on, std::this_thread::get_id());
  ASSERT_TRUE(chunk.error.empty()) << chunk.error;
  EXPECT_EQ(chunk.data, content.substr(0, 1000));
  ASSERT_TRUE(chunk.file);

  // Removed after opening: the open file still reads (what a response started with).
  std::filesystem::remove(path);
  std::promise<FileChunk> last;
  readers.Read(chunk.file, path, 299000, 1000, [&](FileChunk c) { last.set_value(std::move(c)); });
  FileChunk tail = last.get_future().get();
  ASSERT_TRUE(tail.error.empty()) << tail.error;
  EXPECT_EQ(tail.data.back(), 'y');
}

TEST(FileReaders, ReportsMissingAndTruncatedFiles) {
  FileChunk missing = ReadFileChunk(nullptr, "/nonexistent/palaver", 0, 10);
  EXPECT_NE(missing.error.find("open"), std::string::npos);
  std::string path = TempFile("short");
  FileChunk truncated = ReadFileChunk(nullptr, path, 0, 100);
  EXPECT_NE(truncated.error.find("shorter"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(FileReaders, WithoutThreadsReadsInline) {
  FileReaders readers;
  std::string path = TempFile("inline");
  bool called = false;
  readers.Read(nullptr, path, 0, 6, [&](FileChunk c) {
    called = true;
    EXPECT_EQ(c.data, "inline");
  });
  EXPECT_TRUE(called);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace palaver::host::net

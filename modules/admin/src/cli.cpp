#include "cli.hpp"

#include <fstream>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include "loopback.hpp"
#include "settings_ops.hpp"

namespace palaver::admin {
namespace {

constexpr const char* kUsage =
    "usage: palaverd settings list\n"
    "       palaverd settings get KEY\n"
    "       palaverd settings set KEY VALUE\n"
    "Settings are changed in the running palaverd (validated, stored and applied at once, and\n"
    "recorded in the audit log as changed by \"cli\").\n";

int Usage(sdk::CommandContext& ctx, const std::string& why) {
  if (!why.empty()) std::fprintf(ctx.err, "palaverd settings: %s\n", why.c_str());
  std::fputs(kUsage, ctx.err);
  return 2;
}

int Failed(sdk::CommandContext& ctx, const std::string& why) {
  std::fprintf(ctx.err, "palaverd settings: %s\n", why.c_str());
  return 1;
}

// The `error_description` of an API error, else the status.
std::string ErrorOf(const LoopbackResponse& r) {
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    auto d = o->optValue<std::string>("error_description", "");
    if (!d.empty()) return d;
  } catch (const Poco::Exception&) {
  }
  return "the server answered " + std::to_string(r.status);
}

struct Row {
  std::string key, type, value, def, description;
};

Result<std::vector<Row>> ParseList(const std::string& body) {
  std::vector<Row> rows;
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    auto list = o->getArray("settings");
    for (size_t i = 0; list && i < list->size(); ++i) {
      auto s = list->getObject(static_cast<unsigned>(i));
      auto text = [](const Poco::Dynamic::Var& v) { return v.isString() ? v.extract<std::string>() : v.toString(); };
      rows.push_back(Row{s->getValue<std::string>("key"), s->optValue<std::string>("type", ""), text(s->get("value")),
                         text(s->get("default")), s->optValue<std::string>("description", "")});
    }
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kInternal, "bad answer: " + e.displayText(), "the server's answer was not understood");
  }
  return rows;
}

}  // namespace

const char* SettingsCommandUsage() { return kUsage; }

int RunSettingsCommand(const std::vector<std::string>& args, sdk::CommandContext& ctx) {
  if (args.empty() || args[0] == "--help" || args[0] == "help") return Usage(ctx, args.empty() ? "missing subcommand" : "");
  const std::string& sub = args[0];
  if (sub == "list" && args.size() != 1) return Usage(ctx, "list takes no arguments");
  if (sub == "get" && args.size() != 2) return Usage(ctx, "get takes one KEY");
  if (sub == "set" && args.size() != 3) return Usage(ctx, "set takes a KEY and a VALUE");
  if (sub != "list" && sub != "get" && sub != "set") return Usage(ctx, "unknown subcommand " + sub);

  std::string state_dir = ctx.host.state_dir.string();
  auto runtime = ReadRuntime(state_dir);
  if (!runtime) return Failed(ctx, runtime.error().public_message + "; settings are changed in the running server");
  std::ifstream in(ctx.host.state_dir / kCliTokenFile);
  std::string token;
  if (!in || !std::getline(in, token) || token.empty()) {
    return Failed(ctx, "cannot read " + (ctx.host.state_dir / kCliTokenFile).string() +
                           " (run this as the user palaverd runs as)");
  }
  LoopbackTarget target{.port = runtime->first,
                        .host_name = ctx.host.hostnames.empty() ? "localhost" : ctx.host.hostnames.front(),
                        .ca_file = runtime->second};
  std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "Bearer " + token}};
  auto listed = LoopbackRequest(target, "GET", "/admin/api/v1/settings", auth, "");
  if (!listed) return Failed(ctx, listed.error().public_message);
  if (listed->status != 200) return Failed(ctx, ErrorOf(*listed));
  auto rows = ParseList(listed->body);
  if (!rows) return Failed(ctx, rows.error().public_message);

  if (sub == "list") {
    for (const auto& r : *rows) std::fprintf(ctx.out, "%s = %s\n", r.key.c_str(), r.value.c_str());
    return 0;
  }
  const Row* row = nullptr;
  for (const auto& r : *rows) {
    if (r.key == args[1]) row = &r;
  }
  if (row == nullptr) return Failed(ctx, "unknown setting \"" + args[1] + "\" (see palaverd settings list)");
  if (sub == "get") {
    std::fprintf(ctx.out, "%s\n", row->value.c_str());
    return 0;
  }
  sdk::SettingValue like = row->type == "bool" ? sdk::SettingValue(false)
                           : row->type == "int" ? sdk::SettingValue(int64_t{0})
                                                : sdk::SettingValue(std::string());
  auto value = ParseTextValue(args[2], like);
  if (!value) return Failed(ctx, row->key + ": " + value.error().public_message);
  auto put = LoopbackRequest(target, "PUT", "/admin/api/v1/settings/" + row->key,
                             {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
                             "{\"value\":" + ValueJson(*value) + "}");
  if (!put) return Failed(ctx, put.error().public_message);
  if (put->status != 200) return Failed(ctx, ErrorOf(*put) + "; nothing was changed");
  std::fprintf(ctx.out, "%s = %s\n", row->key.c_str(), ValueText(*value).c_str());
  return 0;
}

}  // namespace palaver::admin

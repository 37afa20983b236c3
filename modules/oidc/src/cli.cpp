#include "cli.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {
namespace {

constexpr const char* kUsage =
    "usage: palaverd client list\n"
    "       palaverd client add <client-id> --redirect-uri <uri> [--redirect-uri <uri> ...]\n"
    "                           [--name <name>] [--trusted] [--secret] [--native] [--insecure]\n"
    "                           [--post-logout-redirect-uri <uri> ...]\n"
    "       palaverd client remove <client-id>\n"
    "       palaverd client import <identifier-registration.yaml>   (konnect's format)\n"
    "--secret generates a client secret and prints it once; without it the client is public and\n"
    "must use PKCE. Changes apply to a running palaverd on reload (systemctl reload palaver).\n";

int Usage(sdk::CommandContext& ctx, const std::string& why) {
  if (!why.empty()) std::fprintf(ctx.err, "palaverd client: %s\n", why.c_str());
  std::fputs(kUsage, ctx.err);
  return 2;
}

int Failed(sdk::CommandContext& ctx, const Error& e) {
  const std::string& text = e.public_message.empty() ? e.message : e.public_message;
  std::fprintf(ctx.err, "palaverd client: %s\n", text.c_str());
  return 1;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

const char* ClientCommandUsage() { return kUsage; }

int RunClientCommand(ClientStore& clients, const std::vector<std::string>& args, sdk::CommandContext& ctx) {
  if (args.empty() || args[0] == "help" || args[0] == "--help") return Usage(ctx, args.empty() ? "missing subcommand" : "");
  const std::string& sub = args[0];
  if (sub == "list") {
    if (args.size() != 1) return Usage(ctx, "list takes no arguments");
    auto list = clients.List();
    if (!list) return Failed(ctx, list.error());
    for (const auto& c : *list) {
      std::string flags = std::string(c.trusted ? "trusted " : "") + (c.secret_hash.empty() ? "public " : "confidential ") +
                          (c.native ? "native " : "") + (c.insecure ? "insecure" : "");
      std::fprintf(ctx.out, "%s\n  name: %s\n  redirect URIs: %s\n  flags: %s\n", c.id.c_str(),
                   c.name.empty() ? "-" : c.name.c_str(), Join(c.redirect_uris).c_str(), flags.c_str());
    }
    if (list->empty()) std::fprintf(ctx.out, "no registered clients (same-origin clients such as Meet need none)\n");
    return 0;
  }
  if (args.size() < 2) return Usage(ctx, sub + " needs an argument");
  if (sub == "add") {
    Client c;
    c.id = args[1];
    bool secret = false;
    for (size_t i = 2; i < args.size(); ++i) {
      const std::string& opt = args[i];
      auto value = [&](auto& into) {
        if (i + 1 >= args.size()) return false;
        if constexpr (std::is_same_v<std::decay_t<decltype(into)>, std::string>) into = args[++i];
        else into.push_back(args[++i]);
        return true;
      };
      bool ok = true;
      if (opt == "--redirect-uri") ok = value(c.redirect_uris);
      else if (opt == "--post-logout-redirect-uri") ok = value(c.post_logout_redirect_uris);
      else if (opt == "--name") ok = value(c.name);
      else if (opt == "--trusted") c.trusted = true;
      else if (opt == "--native") c.native = true;
      else if (opt == "--insecure") c.insecure = true;
      else if (opt == "--secret") secret = true;
      else return Usage(ctx, "unknown option " + opt);
      if (!ok) return Usage(ctx, opt + " needs a value");
    }
    std::string generated;
    if (secret) {
      generated = sdk::RandomToken(32);
      c.secret_hash = Client::HashSecret(generated);
    }
    if (auto st = clients.Put(c); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "registered client %s\n", c.id.c_str());
    if (secret) std::fprintf(ctx.out, "client secret (shown once): %s\n", generated.c_str());
    return 0;
  }
  if (args.size() != 2) return Usage(ctx, "unexpected argument " + args[2]);
  if (sub == "remove") {
    if (auto st = clients.Remove(args[1]); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "removed client %s\n", args[1].c_str());
    return 0;
  }
  if (sub == "import") {
    std::ifstream in(args[1]);
    if (!in) return Failed(ctx, Error{ErrorCode::kNotFound, "cannot read " + args[1], "cannot read " + args[1]});
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = ParseKonnectRegistrationYaml(text.str());
    if (!parsed) return Failed(ctx, parsed.error());
    for (const auto& why : parsed->skipped) std::fprintf(ctx.err, "palaverd client: skipped %s\n", why.c_str());
    for (const auto& c : parsed->clients) {
      if (auto st = clients.Put(c); !st) return Failed(ctx, st.error());
      std::fprintf(ctx.out, "imported client %s%s\n", c.id.c_str(), c.trusted ? " (trusted)" : "");
    }
    return parsed->skipped.empty() ? 0 : 1;
  }
  return Usage(ctx, "unknown subcommand " + sub);
}

}  // namespace palaver::oidc

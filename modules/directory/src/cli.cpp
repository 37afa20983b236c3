#include "cli.hpp"

#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <optional>

namespace palaver::directory {
namespace {

constexpr const char* kUsage =
    "usage: palaverd user list\n"
    "       palaverd user add NAME [--display-name TEXT] [--given-name TEXT] [--surname TEXT]\n"
    "                              [--mail ADDRESS] [--admin]\n"
    "       palaverd user passwd NAME\n"
    "       palaverd user set NAME [--display-name TEXT] [--mail ADDRESS]\n"
    "       palaverd user grant-admin NAME | revoke-admin NAME\n"
    "       palaverd user enable NAME | disable NAME | remove NAME\n"
    "Passwords are read from a prompt, or from the first line of standard input; never from\n"
    "the command line. All commands take --config FILE (default /etc/palaver/palaver.cfg).\n";

// Reads one line; on a terminal with echo off. False at end of input.
bool ReadLine(std::FILE* in, std::FILE* out, const char* prompt, std::string& line) {
  int fd = fileno(in);
  bool tty = isatty(fd) != 0;
  termios old_term{};
  if (tty) {
    std::fputs(prompt, out);
    std::fflush(out);
    tcgetattr(fd, &old_term);
    termios quiet = old_term;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  line.clear();
  int c;
  bool got = false;
  while ((c = std::fgetc(in)) != EOF) {
    got = true;
    if (c == '\n') break;
    line.push_back(static_cast<char>(c));
    if (line.size() > kMaxPasswordBytes + 1) break;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (tty) {
    tcsetattr(fd, TCSAFLUSH, &old_term);
    std::fputs("\n", out);
  }
  return got;
}

// A new password from the prompt (asked twice) or standard input, checked against the policy.
Result<std::string> ReadNewPassword(sdk::CommandContext& ctx, const PasswordPolicy& policy,
                                    const std::string& username) {
  std::string first, second;
  if (!ReadLine(ctx.in, ctx.out, "New password: ", first)) {
    return Fail(ErrorCode::kInvalidArgument, "no password given on standard input");
  }
  if (isatty(fileno(ctx.in))) {
    if (!ReadLine(ctx.in, ctx.out, "Repeat password: ", second) || first != second) {
      return Fail(ErrorCode::kInvalidArgument, "the passwords do not match");
    }
  }
  PALAVER_RETURN_IF_ERROR(CheckPasswordPolicy(policy, username, first));
  return first;
}

int Failed(sdk::CommandContext& ctx, const Error& e) {
  const std::string& text = e.public_message.empty() ? e.message : e.public_message;
  std::fprintf(ctx.err, "palaverd user: %s\n", text.c_str());
  return 1;
}

int Usage(sdk::CommandContext& ctx, const std::string& why) {
  if (!why.empty()) std::fprintf(ctx.err, "palaverd user: %s\n", why.c_str());
  std::fputs(kUsage, ctx.err);
  return 2;
}

}  // namespace

const char* UserCommandUsage() { return kUsage; }

int RunUserCommand(LocalUserStore& users, const PasswordPolicy& policy, const std::vector<std::string>& args,
                   sdk::CommandContext& ctx) {
  if (args.empty() || args[0] == "--help" || args[0] == "help") return Usage(ctx, args.empty() ? "missing subcommand" : "");
  const std::string& sub = args[0];

  if (sub == "list") {
    if (args.size() != 1) return Usage(ctx, "list takes no arguments");
    auto list = users.List();
    if (!list) return Failed(ctx, list.error());
    std::fprintf(ctx.out, "%-24s %-28s %-32s %s\n", "USERNAME", "DISPLAY NAME", "MAIL", "FLAGS");
    for (const auto& u : *list) {
      std::string flags = std::string(u.is_admin ? "admin " : "") + (u.enabled ? "" : "disabled");
      std::fprintf(ctx.out, "%-24s %-28s %-32s %s\n", u.username.c_str(), u.display_name.c_str(), u.mail.c_str(),
                   flags.c_str());
    }
    return 0;
  }

  if (args.size() < 2) return Usage(ctx, sub + " needs a user name");
  const std::string& name = args[1];

  if (sub == "add") {
    NewUser user;
    user.username = name;
    for (size_t i = 2; i < args.size(); ++i) {
      const std::string& opt = args[i];
      auto value = [&](std::string& into) {
        if (i + 1 >= args.size()) return false;
        into = args[++i];
        return true;
      };
      bool ok = true;
      if (opt == "--display-name") ok = value(user.display_name);
      else if (opt == "--given-name") ok = value(user.given_name);
      else if (opt == "--surname") ok = value(user.surname);
      else if (opt == "--mail") ok = value(user.mail);
      else if (opt == "--admin") user.is_admin = true;
      else return Usage(ctx, "unknown option " + opt + (opt == "--password" ? " (passwords are read from standard input)" : ""));
      if (!ok) return Usage(ctx, opt + " needs a value");
    }
    if (auto valid = ValidateUsername(name); !valid) return Failed(ctx, valid.error());
    auto password = ReadNewPassword(ctx, policy, name);
    if (!password) return Failed(ctx, password.error());
    auto added = users.Add(user, *password);
    if (!added) return Failed(ctx, added.error());
    std::fprintf(ctx.out, "added user %s (id %s)%s\n", added->username.c_str(), added->id.c_str(),
                 added->is_admin ? " as an administrator" : "");
    return 0;
  }
  if (sub == "set") {
    std::optional<std::string> display_name, mail;
    for (size_t i = 2; i < args.size(); ++i) {
      const std::string& opt = args[i];
      if (i + 1 >= args.size()) return Usage(ctx, opt + " needs a value");
      if (opt == "--display-name") display_name = args[++i];
      else if (opt == "--mail") mail = args[++i];
      else return Usage(ctx, "unknown option " + opt);
    }
    if (!display_name && !mail) return Usage(ctx, "set needs --display-name or --mail");
    if (auto st = users.SetProfile(name, display_name, mail); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "user %s changed\n", name.c_str());
    return 0;
  }
  if (args.size() != 2) return Usage(ctx, "unexpected argument " + args[2]);
  if (sub == "grant-admin" || sub == "revoke-admin") {
    bool grant = sub == "grant-admin";
    if (auto st = users.SetAdmin(name, grant); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "user %s %s\n", name.c_str(), grant ? "is now an administrator" : "is no longer an administrator");
    return 0;
  }
  if (sub == "passwd") {
    if (auto existing = users.GetByUsername(name); !existing) return Failed(ctx, existing.error());
    auto password = ReadNewPassword(ctx, policy, name);
    if (!password) return Failed(ctx, password.error());
    if (auto st = users.SetPassword(name, *password); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "password of %s changed\n", name.c_str());
    return 0;
  }
  if (sub == "enable" || sub == "disable") {
    if (auto st = users.SetEnabled(name, sub == "enable"); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "user %s %sd\n", name.c_str(), sub.c_str());
    return 0;
  }
  if (sub == "remove") {
    if (auto st = users.Remove(name); !st) return Failed(ctx, st.error());
    std::fprintf(ctx.out, "user %s removed\n", name.c_str());
    return 0;
  }
  return Usage(ctx, "unknown subcommand " + sub);
}

}  // namespace palaver::directory

#include "config.hpp"

namespace palaver::web {

WebConfig ParseWebConfig(sdk::ConfigReader& r) {
  WebConfig c;
  c.root = r.String("root", c.root);
  if (c.root.empty() || c.root[0] != '/') r.Reject("root", "must be an absolute path");
  c.hsts = r.String("hsts", c.hsts);
  for (char ch : c.hsts) {
    if (ch == '\r' || ch == '\n') r.Reject("hsts", "must be a single line");
  }
  c.frame_ancestors = r.String("frame_ancestors", c.frame_ancestors);
  for (char ch : c.frame_ancestors) {
    if (ch == ';' || ch == ',' || ch == '\r' || ch == '\n') {
      r.Reject("frame_ancestors", "must be a list of CSP sources without ';' or ','");
      break;
    }
  }
  c.meet_config_file = r.String("meet_config_file", "");
  if (!c.meet_config_file.empty() && c.meet_config_file[0] != '/') {
    r.Reject("meet_config_file", "must be an absolute path");
  }
  c.redirect_root = r.Bool("redirect_root", true);
  return c;
}

}  // namespace palaver::web

"""The Univention App Center app (univention/), checked offline: the app ini and settings parse
as the App Center reads them (configparser, no interpolation, case kept) with the keys and
types it needs; every script passes shellcheck; the join, unjoin and configure scripts run
against stub `ucr`/`udm`/`univention-app`/`univention-keycloak`/`systemctl`/`a2enmod` commands
and stub UCS shell libraries, and make exactly the calls asserted here. The configure script
talks to a real palaverd (`palaverd settings set`), and the palaver.cfg the join script writes
passes `palaverd --check-config`."""
import configparser
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import PALAVERD, SOURCE, Palaverd

APP = os.path.join(SOURCE, "univention")
SCRIPTS = ("inst", "uinst", "configure_host")
BIND = ["--binddn", "uid=Administrator,cn=users,dc=example,dc=org", "--bindpwdfile", "/tmp/admin.pw"]
BASE = "dc=example,dc=org"

# A stub command: appends its name and arguments to $STUB_CALLS (one JSON array a line). `ucr`
# keeps its variables in $STUB_UCR (JSON) and answers get/set/unset/shell like the real one.
STUB = r'''#!/usr/bin/env python3
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["STUB_CALLS"], "a") as f:
    f.write(json.dumps([name] + sys.argv[1:]) + "\n")
if name == "ucr":
    path = os.environ["STUB_UCR"]
    db = json.load(open(path))
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "get":
        print(db.get(args[0], ""))
    elif cmd == "shell":
        for k in args:
            v = db.get(k, "").replace("'", "'\\''")
            print(f"{k.replace('/', '_')}='{v}'")
    elif cmd == "set":
        for a in args:
            k, _, v = a.partition("=")
            db[k] = v
    elif cmd == "unset":
        for k in args:
            db.pop(k, None)
    json.dump(db, open(path, "w"))
sys.exit(int(os.environ.get("STUB_EXIT_" + name.replace("-", "_"), "0")))
'''

# joinscripthelper.lib and univention-lib's ldap.sh: their functions record their calls.
SHELL_LIB = r'''
record() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >>"$STUB_CALLS"; }
joinscript_init() { record joinscript_init "$@"; }
joinscript_save_current_version() { record joinscript_save_current_version "$VERSION"; }
joinscript_remove_script_from_status_file() { record joinscript_remove_script_from_status_file "$@"; }
ucs_addServiceToLocalhost() { record ucs_addServiceToLocalhost "$@"; }
ucs_removeServiceFromLocalhost() { record ucs_removeServiceFromLocalhost "$@"; }
'''


def read_ini(name):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    with open(os.path.join(APP, name), encoding="utf-8") as f:
        parser.read_file(f)
    return parser


class AppFiles(unittest.TestCase):
    def test_ini(self):
        ini = read_ini("palaver.ini")
        app = ini["Application"]
        for key in ("ID", "Code", "Name", "Version", "Vendor", "Description", "LongDescription", "WebInterface",
                    "WebInterfaceName", "Logo", "Screenshot", "DefaultPackages", "SupportedUCSVersions",
                    "PortsExclusive", "ServerRole", "License"):
            self.assertTrue(app.get(key, "").strip(), key)
        self.assertEqual(app["ID"], "palaver")
        self.assertRegex(app["Code"], r"^[A-Z0-9]{2}$")
        self.assertRegex(app["Version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(app["WebInterface"], "/meet")
        self.assertEqual(app["DefaultPackages"].split(), ["palaver"])
        self.assertEqual(sorted(int(p) for p in app["PortsExclusive"].split(",")), [3478, 5349])
        for version in app["SupportedUCSVersions"].split(","):
            self.assertRegex(version.strip(), r"^5\.\d-\d+$")
        # German texts in the [de] section; every named file is in univention/.
        de = ini["de"]
        for key in ("Description", "LongDescription", "Screenshot"):
            self.assertTrue(de.get(key, "").strip(), key)
            self.assertNotEqual(de[key], app[key], key)
        for section in (app, de):
            names = [section[k] for k in ("Logo", "LogoDetailPage", "Screenshot") if k in section]
            names += [n.strip() for n in section.get("Thumbnails", "").split(",") if n.strip()]
            for name in names:
                self.assertTrue(os.path.isfile(os.path.join(APP, name)), name)
        with open(os.path.join(APP, app["Logo"])) as f:
            self.assertTrue(f.read().lstrip().startswith("<svg"), "the logo is an SVG")
        for name in (app["Screenshot"], de["Screenshot"]):
            with open(os.path.join(APP, name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)

    def test_settings(self):
        settings = read_ini("settings")
        expected = {"palaver/guests": ("Bool", "false"), "palaver/guests/public-rooms": ("String", "^group/public/.*"),
                    "palaver/screenshare": ("Bool", "true"), "palaver/turn/external-ip": ("String", ""),
                    "palaver/hostname": ("String", "")}
        self.assertEqual(sorted(settings.sections()), sorted(expected))
        for name, (kind, initial) in expected.items():
            s = settings[name]
            self.assertEqual(s["Type"], kind, name)
            self.assertEqual(s["InitialValue"], initial, name)
            self.assertTrue(s["Description"].strip(), name)
            self.assertTrue(s["Description[de]"].strip(), name)
            self.assertNotEqual(s["Description"], s["Description[de]"], name)
            self.assertTrue(set(x.strip() for x in s["Show"].split(",")) <= {"Install", "Settings"}, name)
        # The settings the unjoin script removes are exactly these.
        with open(os.path.join(APP, "uinst")) as f:
            uinst = f.read()
        for name in expected:
            self.assertIn(f"\t{name} \\\n" if name != "palaver/hostname" else f"\t{name}\n", uinst)

    def test_shellcheck(self):
        if not shutil.which("shellcheck"):
            self.fail("shellcheck is needed: scripts/deps.sh test installs it")
        for name in SCRIPTS:
            path = os.path.join(APP, name)
            self.assertTrue(os.access(path, os.X_OK), f"{name} is executable")
            with open(path) as f:
                head = f.read().splitlines()[:2]
            self.assertEqual(head[0], "#!/bin/bash", name)
            if name != "configure_host":
                # Join scripts that get --binddn/--bindpwdfile from the App Center say so.
                self.assertEqual(head[1], "## joinscript api: bindpwdfile", name)
            r = subprocess.run(["shellcheck", "-s", "bash", "-S", "style", path], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, name + ":\n" + r.stdout + r.stderr)


class Stubbed(unittest.TestCase):
    """A temporary UCS: stub commands first on PATH, stub libraries, a fake certificate tree."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="palaver-ucs-")
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        for name in ("ucr", "udm", "univention-app", "univention-keycloak", "systemctl", "a2enmod"):
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(STUB)
            os.chmod(path, 0o755)
        share = os.path.join(self.dir, "share")
        for rel in ("univention-join/joinscripthelper.lib", "univention-lib/ldap.sh"):
            os.makedirs(os.path.dirname(os.path.join(share, rel)), exist_ok=True)
            with open(os.path.join(share, rel), "w") as f:
                f.write(SHELL_LIB)
        self.calls_path = os.path.join(self.dir, "calls")
        self.ucr_path = os.path.join(self.dir, "ucr.json")
        self.etc = os.path.join(self.dir, "etc-palaver")
        os.makedirs(self.etc)
        self.cfg = os.path.join(self.etc, "palaver.cfg")
        self.sites = os.path.join(self.dir, "ucs-sites.conf.d")
        self.ssl = os.path.join(self.dir, "ssl")
        self.group = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip()
        self.env = {**os.environ, "PATH": self.bin + ":" + os.environ["PATH"], "STUB_CALLS": self.calls_path,
                    "STUB_UCR": self.ucr_path, "UNIVENTION_SHARE": share, "PALAVER_CONFIG": self.cfg,
                    "PALAVER_GROUP": self.group, "APACHE_SITES": self.sites, "UCS_SSL": self.ssl,
                    "PALAVER_BACKEND_PORT": "8443"}
        self.set_ucr({"hostname": "ucs1", "domainname": "example.org", "ldap/base": BASE,
                      "ldap/server/name": "ucs1.example.org", "ldap/server/port": "7389",
                      "ldap/server/addition": "ucs2.example.org", "ldap/hostdn": f"cn=ucs1,cn=dc,cn=computers,{BASE}"})

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def set_ucr(self, values):
        with open(self.ucr_path, "w") as f:
            json.dump(values, f)

    def ucr(self):
        with open(self.ucr_path) as f:
            return json.load(f)

    def run_script(self, name, *args, env=None):
        open(self.calls_path, "w").close()
        r = subprocess.run([os.path.join(APP, name), *args], capture_output=True, text=True, timeout=120,
                           env={**self.env, **(env or {})})
        with open(self.calls_path) as f:
            calls = [json.loads(line) for line in f if line.strip()]
        return r, calls

    def make_certificates(self):
        """The UCS CA and this host's certificate, as a UCS host has them (real PEM files)."""
        host_dir = os.path.join(self.ssl, "ucs1.example.org")
        ca_dir = os.path.join(self.ssl, "ucsCA")
        os.makedirs(host_dir)
        os.makedirs(ca_dir)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=ucs1.example.org", "-addext", "subjectAltName=DNS:ucs1.example.org",
                        "-keyout", os.path.join(host_dir, "private.key"), "-out", os.path.join(host_dir, "cert.pem")],
                       check=True, capture_output=True, timeout=60)
        shutil.copy(os.path.join(host_dir, "cert.pem"), os.path.join(ca_dir, "CAcert.pem"))


class JoinAndUnjoin(Stubbed):
    def install_package_files(self):
        """palaver.cfg and the drop-in the Debian package writes at its first installation."""
        shutil.copy(os.path.join(SOURCE, "appliance", "palaver.cfg.example"), self.cfg)
        dropins = os.path.join(self.etc, "palaver.cfg.d")
        os.makedirs(dropins, exist_ok=True)
        with open(os.path.join(dropins, "00-hostname.cfg"), "w") as f:
            f.write("[palaver]\nhostnames = debian-host.example\n")
        return dropins

    def package_files_untouched(self, dropins):
        with open(self.cfg) as f, open(os.path.join(SOURCE, "appliance", "palaver.cfg.example")) as g:
            self.assertEqual(f.read(), g.read())
        with open(os.path.join(dropins, "00-hostname.cfg")) as f:
            self.assertEqual(f.read(), "[palaver]\nhostnames = debian-host.example\n")

    def app_config(self):
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(" ;", " #"))
        parser.optionxform = str
        with open(os.path.join(self.etc, "palaver.cfg.d", "50-univention.cfg")) as f:
            parser.read_string(f.read())
        return parser

    def check_config(self):
        # --syntax-only: the file names the installed package's paths (/usr/share/palaver/webui),
        # which a test machine does not have, so the files it names are not opened here. The
        # drop-ins (palaver.cfg.d/) are read as palaverd reads them.
        check = subprocess.run([PALAVERD, "--check-config", self.cfg, "--syntax-only"], capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_join_with_keycloak_registers_a_client(self):
        self.make_certificates()
        dropins = self.install_package_files()
        values = self.ucr()
        values["keycloak/server/sso/fqdn"] = "ucs-sso.example.org"
        self.set_ucr(values)
        r, calls = self.run_script("inst", *BIND)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        secret_file = os.path.join(self.etc, "keycloak.secret")
        with open(secret_file) as f:
            secret = f.read().strip()
        self.assertRegex(secret, r"^[0-9a-f]{64}$")
        self.assertEqual(os.stat(secret_file).st_mode & 0o777, 0o640)
        auth = ["--binduser", "Administrator", "--bindpwdfile", "/tmp/admin.pw"]
        client = "palaver-ucs1.example.org"
        self.assertEqual([c for c in calls if c[0] == "univention-keycloak"], [
            ["univention-keycloak", *auth, "oidc/rp", "remove", client],
            ["univention-keycloak", *auth, "oidc/rp", "create", "--client-secret", secret,
             "--app-url", "https://ucs1.example.org/meet/",
             "--redirect-uri", "https://ucs1.example.org/signin/v1/identifier/_/upstream/*", client],
        ])
        self.assertIn(["ucr", "shell", "keycloak/server/sso/fqdn"], calls)
        self.assertLess(calls.index(["ucr", "shell", "keycloak/server/sso/fqdn"]),
                        calls.index(["systemctl", "restart", "palaver"]))
        cfg = self.app_config()
        self.assertEqual(dict(cfg["oidc"]), {
            "issuer": "https://ucs1.example.org",
            "upstream_issuer": "https://ucs-sso.example.org/realms/ucs", "upstream_client_id": client,
            "upstream_client_secret_file": secret_file, "upstream_user_claim": "preferred_username",
            "upstream_label": "UCS", "upstream_label_de": "UCS", "upstream_only": "yes"})
        self.assertNotIn(secret, r.stdout + r.stderr)
        self.package_files_untouched(dropins)
        self.check_config()
        # The unjoin removes the client, its secret and the app's drop-in.
        r, calls = self.run_script("uinst", *BIND)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([c for c in calls if c[0] == "univention-keycloak"],
                         [["univention-keycloak", *auth, "oidc/rp", "remove", client]])
        self.assertFalse(os.path.exists(secret_file))
        self.assertEqual(sorted(os.listdir(dropins)), ["00-hostname.cfg"])
        self.package_files_untouched(dropins)

    def test_rejoin_without_keycloak_drops_the_upstream(self):
        self.make_certificates()
        self.install_package_files()
        values = self.ucr()
        values["keycloak/server/sso/fqdn"] = "ucs-sso.example.org"
        self.set_ucr(values)
        self.assertEqual(self.run_script("inst", *BIND)[0].returncode, 0)
        values.pop("keycloak/server/sso/fqdn")
        self.set_ucr(values)
        r, calls = self.run_script("inst", *BIND)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("univention-keycloak", [c[0] for c in calls])
        self.assertEqual(sorted(k for k in self.app_config()["oidc"]), ["issuer"])
        self.assertFalse(os.path.exists(os.path.join(self.etc, "keycloak.secret")))
        self.check_config()

    def test_join_then_unjoin(self):
        self.make_certificates()
        dropins = self.install_package_files()
        r, calls = self.run_script("inst", *BIND)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The package's palaver.cfg and 00-hostname.cfg stay as they are; the app's drop-in wins.
        self.assertEqual(sorted(os.listdir(dropins)), ["00-hostname.cfg", "50-univention.cfg"])
        self.package_files_untouched(dropins)
        secret = os.path.join(self.etc, "ldap.secret")
        with open(secret) as f:
            password = f.read().strip()
        self.assertRegex(password, r"^[0-9a-f]{48}$")
        self.assertEqual(os.stat(secret).st_mode & 0o777, 0o640)
        account = f"uid=palaver-ucs1,cn=users,{BASE}"
        entry = f"cn=palaver-admin,cn=entry,cn=portals,cn=univention,{BASE}"
        admins = f"cn=Domain Admins,cn=groups,{BASE}"
        self.assertEqual(calls, [
            ["joinscript_init"],
            ["ucr", "shell", "hostname", "domainname", "ldap/base", "ldap/server/name", "ldap/server/port",
             "ldap/server/addition"],
            ["ucs_addServiceToLocalhost", "Palaver", *BIND],
            ["udm", "users/ldap", "create", *BIND, "--ignore_exists", "--position", f"cn=users,{BASE}",
             "--set", "username=palaver-ucs1",
             "--set", "description=Palaver on ucs1.example.org: reads users and groups for the video meeting server",
             "--set", f"password={password}"],
            ["udm", "users/ldap", "modify", *BIND, "--dn", account, "--set", f"password={password}"],
            ["a2enmod", "-q", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "ssl", "headers"],
            ["systemctl", "reload", "apache2"],
            ["ucr", "set",
             "security/packetfilter/package/palaver/udp/3478/all=ACCEPT",
             "security/packetfilter/package/palaver/udp/3478/all/en=Palaver TURN (UDP)",
             "security/packetfilter/package/palaver/tcp/3478/all=ACCEPT",
             "security/packetfilter/package/palaver/tcp/3478/all/en=Palaver TURN (TCP)",
             "security/packetfilter/package/palaver/tcp/5349/all=ACCEPT",
             "security/packetfilter/package/palaver/tcp/5349/all/en=Palaver TURN over TLS",
             "security/packetfilter/package/palaver/udp/49152:65535/all=ACCEPT",
             "security/packetfilter/package/palaver/udp/49152:65535/all/en=Palaver TURN relay ports"],
            ["systemctl", "try-restart", "univention-firewall"],
            ["udm", "portals/entry", "create", *BIND, "--ignore_exists",
             "--position", f"cn=entry,cn=portals,cn=univention,{BASE}", "--set", "name=palaver-admin",
             "--append", 'displayName="en_US" "Palaver administration"',
             "--append", 'displayName="de_DE" "Palaver-Administration"',
             "--append", 'description="en_US" "Guests, media, users and status of the video meeting server"',
             "--append", 'description="de_DE" "Gäste, Medien, Benutzer und Status des Videokonferenz-Servers"',
             "--append", 'link="en_US" "https://ucs1.example.org/admin/"',
             "--set", "linkTarget=newwindow", "--set", "activated=TRUE", "--set", f"allowedGroups={admins}"],
            ["udm", "portals/category", "modify", *BIND, "--dn",
             f"cn=domain-admin,cn=category,cn=portals,cn=univention,{BASE}", "--append", f"entries={entry}"],
            ["ucr", "shell", "keycloak/server/sso/fqdn"],
            ["systemctl", "restart", "palaver"],
            ["joinscript_save_current_version", "1"],
        ])
        # The app's drop-in with the UCS keys, valid for palaverd together with the package's files.
        parser = self.app_config()
        expect = {
            ("palaver", "hostnames"): "ucs1.example.org", ("palaver", "listen"): "127.0.0.1",
            ("palaver", "https_port"): "8443", ("palaver", "http_redirect"): "no",
            ("palaver", "trusted_proxies"): "127.0.0.1, ::1", ("palaver", "proxy_header"): "x-forwarded-for",
            ("oidc", "issuer"): "https://ucs1.example.org", ("turn", "https_fallback"): "no",
            ("directory", "backend"): "ldap", ("directory", "ldap_preset"): "univention",
            ("directory", "ldap_uri"): "ldap://ucs1.example.org:7389 ldap://ucs2.example.org:7389",
            ("directory", "ldap_starttls"): "yes",
            ("directory", "ldap_ca_file"): os.path.join(self.ssl, "ucsCA", "CAcert.pem"),
            ("directory", "ldap_bind_dn"): account, ("directory", "ldap_bind_password_file"): secret,
            ("directory", "ldap_base_dn"): BASE, ("directory", "ldap_admin_group"): admins,
            ("tls", "certificate"): os.path.join(self.etc, "ucs-certificate.pem"),
            ("tls", "key"): os.path.join(self.etc, "ucs-key.pem"), ("tls", "local_ca"): "no",
        }
        for (section, key), value in expect.items():
            self.assertEqual(parser[section][key], value, f"[{section}] {key}")
        for name in ("ucs-certificate.pem", "ucs-key.pem"):
            self.assertEqual(os.stat(os.path.join(self.etc, name)).st_mode & 0o777, 0o640)
        self.assertNotIn("upstream_issuer", parser["oidc"])  # no Keycloak: Palaver's own sign-in
        self.check_config()
        # The reverse proxy configuration: every path palaverd serves to browsers, on loopback.
        with open(os.path.join(self.sites, "palaver.conf")) as f:
            conf = f.read()
        for path in ("/meet", "/admin", "/signin", "/konnect", "/.well-known/openid-configuration", "/api/gc",
                     "/api/kvs", "/api/kwm", "/api/config"):
            self.assertIn(f'ProxyPass "https://127.0.0.1:8443{path}"', conf)
        self.assertIn("RewriteRule ^/api/kwm/(.*)$ wss://127.0.0.1:8443/api/kwm/$1 [P,L]", conf)
        self.assertFalse(any(c[0] == "univention-keycloak" or c[0] == "univention-app" for c in calls))
        ucr_after_join = self.ucr()
        self.assertIn("security/packetfilter/package/palaver/udp/3478/all", ucr_after_join)

        # Settings the App Center stored, then the unjoin.
        ucr_values = self.ucr()
        ucr_values.update({"palaver/guests": "true", "palaver/screenshare": "false", "palaver/hostname": "",
                           "palaver/turn/external-ip": "203.0.113.10",
                           "palaver/guests/public-rooms": "^group/public/.*"})
        self.set_ucr(ucr_values)
        r, calls = self.run_script("uinst", *BIND)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(calls, [
            ["joinscript_init"],
            ["ucr", "shell", "hostname", "domainname", "ldap/base"],
            ["ucs_removeServiceFromLocalhost", "Palaver", *BIND],
            ["udm", "users/ldap", "remove", *BIND, "--dn", account, "--ignore_not_exists"],
            ["udm", "portals/category", "modify", *BIND, "--dn",
             f"cn=domain-admin,cn=category,cn=portals,cn=univention,{BASE}", "--remove", f"entries={entry}"],
            ["udm", "portals/entry", "remove", *BIND, "--dn", entry, "--ignore_not_exists"],
            ["systemctl", "reload", "apache2"],
            ["ucr", "unset", *[f"security/packetfilter/package/palaver/{port}/all{suffix}"
                               for port in ("udp/3478", "tcp/3478", "tcp/5349", "udp/49152:65535")
                               for suffix in ("", "/en")],
             "palaver/guests", "palaver/guests/public-rooms", "palaver/screenshare", "palaver/turn/external-ip",
             "palaver/hostname"],
            ["systemctl", "try-restart", "univention-firewall"],
            ["joinscript_remove_script_from_status_file", "palaver"],
        ])
        # Nothing of the app is left in UCR, on disk (but the package's files) or in Apache.
        self.assertEqual(self.ucr(), {k: v for k, v in ucr_values.items()
                                      if not k.startswith(("palaver/", "security/packetfilter/package/palaver/"))})
        self.assertEqual(sorted(os.listdir(self.etc)), ["palaver.cfg", "palaver.cfg.d"])  # both the package's
        self.assertEqual(os.listdir(dropins), ["00-hostname.cfg"])
        self.package_files_untouched(dropins)
        self.assertEqual(os.listdir(self.sites), [])

    def test_join_fails_loudly(self):
        # No host certificate: nothing half-done is claimed; the join script exits non-zero.
        r, calls = self.run_script("inst", *BIND)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("this host has no UCS certificate", r.stderr)
        self.assertNotIn(["joinscript_save_current_version", "1"], calls)
        # udm failing to create the account stops the join before anything else.
        self.make_certificates()
        r, calls = self.run_script("inst", *BIND, env={"STUB_EXIT_udm": "1"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot create uid=palaver-ucs1", r.stderr)
        self.assertEqual(calls[-1][:3], ["udm", "users/ldap", "create"])


class Configure(Stubbed):
    """configure_host against a real palaverd: UCR settings become palaver.cfg keys and live settings."""

    def setUp(self):
        super().setUp()
        self.s = Palaverd()
        self.cfg = self.s.config_path
        self.env["PALAVER_CONFIG"] = self.cfg
        self.env["PALAVERD"] = PALAVERD

    def tearDown(self):
        self.s.close()
        super().tearDown()

    def setting(self, key):
        r = subprocess.run([PALAVERD, "settings", "get", key, "--config", self.cfg], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_settings_become_config_and_live_settings(self):
        values = self.ucr()
        values.update({"palaver/guests": "true", "palaver/screenshare": "false", "palaver/hostname": "localhost",
                       "palaver/turn/external-ip": "203.0.113.10", "palaver/guests/public-rooms": "^group/open/.*"})
        self.set_ucr(values)
        r, calls = self.run_script("configure_host", "--action", "settings", "--app", "palaver")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(["systemctl", "restart", "palaver"], calls)
        self.assertEqual([c for c in calls if c[0] == "systemctl"], [["systemctl", "restart", "palaver"]])
        self.assertEqual((self.setting("signaling.guests_enabled"), self.setting("web.screenshare_enabled"),
                          self.setting("signaling.public_guest_access_regexp")), ("true", "false", "^group/open/.*"))
        with open(self.cfg) as f:
            self.assertNotIn("203.0.113.10", f.read())  # the package's (here: the test's) file is left alone
        with open(os.path.join(self.cfg + ".d", "50-univention.cfg")) as f:
            text = f.read()
        self.assertRegex(text, r"\[turn\]\n(.*\n)*external_ip = 203\.0\.113\.10\n")
        self.assertRegex(text, r"\[oidc\]\n(.*\n)*issuer = https://localhost\n")
        self.assertRegex(text, r"\[palaver\]\n(.*\n)*hostnames = localhost\n")
        self.assertIn("setting changed key=signaling.guests_enabled", self.s.stderr())
        # Unchanged names: no restart on a settings change; back to the defaults.
        values.update({"palaver/guests": "false", "palaver/screenshare": "true", "palaver/guests/public-rooms": ""})
        self.set_ucr(values)
        r, calls = self.run_script("configure_host", "--action=settings")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("systemctl", [c[0] for c in calls])
        self.assertEqual((self.setting("signaling.guests_enabled"), self.setting("web.screenshare_enabled"),
                          self.setting("signaling.public_guest_access_regexp")), ("false", "true", "^group/public/.*"))
        # A rule that is no regular expression: palaverd refuses it, the script says so and fails.
        values["palaver/guests/public-rooms"] = "^group/(unclosed"
        self.set_ucr(values)
        r, _ = self.run_script("configure_host", "--action", "settings")
        self.assertEqual(r.returncode, 1)
        self.assertIn("signaling.public_guest_access_regexp was not changed", r.stderr)
        self.assertIn("not a valid regular expression", r.stderr)
        self.assertEqual(self.setting("signaling.public_guest_access_regexp"), "^group/public/.*")

    def test_bad_values_change_nothing(self):
        with open(self.cfg) as f:
            before = f.read()
        for key, value, message in (("palaver/hostname", "meet example", "is not a DNS name"),
                                    ("palaver/turn/external-ip", "one.two", "is not an IP address")):
            values = self.ucr()
            values[key] = value
            self.set_ucr(values)
            r, calls = self.run_script("configure_host", "--action", "settings")
            self.assertEqual(r.returncode, 1)
            self.assertIn(message, r.stderr)
            self.assertNotIn("systemctl", [c[0] for c in calls])
            values.pop(key)
            self.set_ucr(values)
        with open(self.cfg) as f:
            self.assertEqual(f.read(), before)

    def test_remove_does_nothing(self):
        r, calls = self.run_script("configure_host", "--action", "remove")
        self.assertEqual((r.returncode, calls), (0, []))


if __name__ == "__main__":
    unittest.main()

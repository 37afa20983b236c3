"""The Meet web app's main screen, contacts, recents, settings, first use and update banner in
Debian's Chromium against the real palaverd (tests/node/meet-home*.js); also renders the user
manual's screenshots (docs/user/*.png; written there with PALAVER_UPDATE_SCREENSHOTS=1)."""
import glob
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import zlib

from harness import Palaverd, SOURCE
from test_meet_browser import MeetBrowserCase, run_node

MEET_SRC = os.path.join(SOURCE, "webui", "meet")


def tiny_png(rgb=(31, 78, 121), size=16):
    """A solid-colour PNG (a stand-in photo)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    light = tuple(min(255, c + 110) for c in rgb)
    raw = b"".join(b"\x00" + b"".join(bytes(light if (x + y) % 8 < 4 else rgb) for x in range(size)) for y in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def set_photo(server, username, data):
    """Stores a directory photo for `username` (palaverd has no command for photos yet)."""
    for path in glob.glob(os.path.join(server.state, "**", "*"), recursive=True):
        if not os.path.isfile(path):
            continue
        try:
            db = sqlite3.connect(path)
            if db.execute("SELECT name FROM sqlite_master WHERE name='directory_users'").fetchone():
                n = db.execute("UPDATE directory_users SET photo = ? WHERE username = ?", (data, username)).rowcount
                db.commit()
                db.close()
                if n == 1:
                    return
            db.close()
        except sqlite3.DatabaseError:
            continue
    raise AssertionError("no directory database with " + username)


class PhotoCase(MeetBrowserCase):
    """Three users; Bert has a photo in the directory."""
    users = (("anna", "anna-secret", "Anna Alder"), ("bert", "bert-secret", "Bert Berg"),
             ("carla", "carla-secret", "Carla Christ"))

    def setUp(self):
        super().setUp()
        self.s.proc.terminate()
        self.s.proc.wait(timeout=15)
        set_photo(self.s, "bert", tiny_png())
        self.s.start()
        self.iss = f"https://localhost:{self.s.https_port}"


class Home(PhotoCase):
    def test_contacts_recents_settings_language_camera_denied(self):
        out = run_node(self, "meet-home.js", self.iss, self.s.ca, "anna", "anna-secret", "bert", "Bert Berg",
                       "carla", "carla-secret", timeout=200)
        self.assertEqual(out["preview"], "live")
        self.assertEqual(out["arrow_tab"], {"focused": "tab-contacts", "selected": "tab-contacts"})
        self.assertTrue(out["video_playing"])
        # New call opens the contact search; the second user is found, with the directory's photo.
        self.assertTrue(out["search_focused"])
        self.assertEqual(out["found"], ["Bert Berg"])
        # A small directory is browsed whole, sorted, without oneself.
        self.assertEqual(out["browse_all"], ["Administrator", "Bert Berg", "Carla Christ"])
        self.assertEqual(out["photo"], 16)
        # The contact view: /meet/r/call/<id>, details, a call button.
        self.assertTrue(out["contact_path"].startswith("/meet/r/call/"))
        self.assertEqual(out["call_button"]["text"], "Call")
        self.assertIn("bert", out["contact_fields"])
        # Viewing a contact put it into recents, which survive a reload and sit in kvs as the
        # original app keeps them.
        self.assertEqual(out["recents_after_reload"], ["Bert Berg"])
        contact_id = out["contact_path"].rsplit("/", 1)[1]
        self.assertEqual(len(out["kvs"]), 1)
        rec = out["kvs"][0]
        self.assertEqual(rec["key"], f"kopano-meet-recents/contact/{contact_id}")
        self.assertEqual(rec["value"]["kind"], "contact")
        self.assertEqual(rec["value"]["id"], contact_id)
        self.assertEqual(rec["value"]["displayName"], "Bert Berg")
        self.assertEqual(rec["value"]["userPrincipalName"], "bert")
        self.assertRegex(rec["value"]["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(out["kvs_after_remove"], [])
        # Settings: a modal dialog; Escape discards and gives focus back; Done applies and persists.
        self.assertTrue(out["dialog_modal"])
        self.assertGreaterEqual(out["devices"], 1)
        self.assertEqual(out["focus_returned"], "open-settings")
        self.assertEqual(out["after_cancel"], "live")
        self.assertEqual(out["before_done"], "New call")
        self.assertEqual(out["after_done"], "Neuer Anruf")
        self.assertEqual(out["after_reload"], {"new_call": "Neuer Anruf", "lang": "de", "preview": "audio-only"})
        self.assertTrue(out["install_prompted"])
        # A German browser gets the German UI.
        self.assertEqual(out["german"], {"lang": "de", "new_call": "Neuer Anruf", "tabs": ["Zuletzt", "Kontakte"]})
        self.assertEqual(out["phone"], {"main": 390, "contacts": 390, "settings_right": out["phone"]["settings_right"],
                                        "settings_label": "Einstellungen"})
        self.assertLessEqual(out["phone"]["settings_right"], 390)
        # Without camera permission: the message and a way forward.
        self.assertEqual(out["denied"]["state"], "denied")
        self.assertIn("Camera access is blocked", out["denied"]["text"])
        self.assertIn("Try again", out["denied"]["text"])


class ServerSearch(PhotoCase):
    """`disableFullGAB` (merged into config.json from [web] meet_config_file): search on the server."""

    def setUp(self):
        super().setUp()
        self.s.proc.terminate()
        self.s.proc.wait(timeout=15)
        path = os.path.join(self.s.dir, "meet-config.json")
        with open(path, "w") as f:
            json.dump({"disableFullGAB": True}, f)
        self.s.sections["web"]["meet_config_file"] = path
        self.s.write_config()
        self.s.start()
        self.iss = f"https://localhost:{self.s.https_port}"

    def test_search_on_the_server(self):
        out = run_node(self, "meet-home-search.js", self.iss, self.s.ca, "anna", "anna-secret", "ber", "Bert Berg")
        self.assertEqual(out["hint"], "Type a name or an e-mail address to search the address book.")
        self.assertEqual(out["list_before"], 0)
        self.assertEqual(out["found"], ["Bert Berg"])
        self.assertEqual(out["none"], "Nobody matches “nobody-matches-this”.")
        # No probe, no full load: only searches (the typed prefixes may each be sent).
        self.assertTrue(out["gc"])
        for url in out["gc"]:
            if "/photo/" in url:
                continue
            self.assertRegex(url, r"^/api/gc/v1/users\?\$top=100&\$skip=0&\$search=\S+$")
        self.assertIn("/api/gc/v1/users?$top=100&$skip=0&$search=ber", out["gc"])


class Screens(PhotoCase):
    """The user manual's screenshots. They go to a temporary directory; with
    PALAVER_UPDATE_SCREENSHOTS=1 they replace docs/user/*.png."""

    def test_screenshots(self):
        out_dir = tempfile.mkdtemp(prefix="palaver-meet-screens-")
        self.addCleanup(shutil.rmtree, out_dir, True)
        out = run_node(self, "meet-home-screens.js", self.iss, self.s.ca, "anna", "anna-secret", out_dir, timeout=200)
        expected = {f"{view}-{size}-{lang}.png" for view in ("main", "contacts", "contact", "settings")
                    for size in ("desktop", "phone") for lang in ("en", "de")}
        expected |= {"first-use-desktop-en.png", "first-use-desktop-de.png"}
        self.assertEqual(set(out["files"]), expected)
        for name in expected:
            with open(os.path.join(out_dir, name), "rb") as f:
                head = f.read(24)
            self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
            width, height = struct.unpack(">II", head[16:24])
            self.assertEqual((width, height), (390, 844) if "-phone-" in name else (1280, 800), name)
        if os.environ.get("PALAVER_UPDATE_SCREENSHOTS") == "1":
            docs = os.path.join(SOURCE, "docs", "user")
            os.makedirs(docs, exist_ok=True)
            for name in expected:
                shutil.copyfile(os.path.join(out_dir, name), os.path.join(docs, name))


class Update(MeetBrowserCase):
    """Build A served, build B written into the same directory: the open app offers the update."""

    def setUp(self):
        if not os.path.isdir(os.path.join(MEET_SRC, "node_modules", "vite")):
            self.fail("webui/meet/node_modules is needed (the cmake build runs npm ci)")
        self.site = tempfile.mkdtemp(prefix="palaver-meet-update-")
        self.addCleanup(shutil.rmtree, self.site, True)
        env = dict(os.environ, PALAVER_MEET_OUT=os.path.join(self.site, "meet"), VITE_PALAVER_BUILD="A")
        subprocess.run(["npx", "vite", "build", "--logLevel", "error"], cwd=MEET_SRC, env=env, check=True, timeout=180)
        os.environ["PALAVER_WEBUI_SAVED"] = os.environ.get("PALAVER_WEBUI", "")
        os.environ["PALAVER_WEBUI"] = self.site
        try:
            super().setUp()
        finally:
            os.environ["PALAVER_WEBUI"] = os.environ.pop("PALAVER_WEBUI_SAVED")

    def test_update_available_reload(self):
        out = run_node(self, "meet-home-update.js", self.iss, self.s.ca, "anna", "anna-secret", MEET_SRC,
                       os.path.join(self.site, "meet"), timeout=220)
        self.assertTrue(out["controlled"])
        self.assertEqual(out["banner_before"], [])
        self.assertNotEqual(out["script_a"], out["script_b"])
        self.assertEqual(out["banner"], "An update is available. Reload")
        self.assertEqual(out["script_still"], out["script_a"])
        self.assertEqual(out["script_after"], out["script_b"])
        self.assertEqual(out["banner_after"], [])
        self.assertEqual(out["sw_after"], 1)  # the old version's cache is gone


if __name__ == "__main__":
    import unittest
    unittest.main()

"""`palaverd backup FILE` / `palaverd restore FILE` against the real binary: a backup taken while
writes go on is a consistent, private snapshot; restoring it into a fresh state dir gives back the
users, the signing keys, the settings, the local CA and the TURN secret; a restore refuses to run
under a live server; a second server refuses a state dir in use."""
import json
import os
import sqlite3
import stat
import subprocess
import threading
import time
import unittest

from harness import Palaverd


def run(server, *args, timeout=60, stdin=""):
    return subprocess.run([server.binary, *args, "--config", server.config_path], capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def jwks_kids(server):
    status, _, body, _ = server.curl("/konnect/v1/jwks.json")
    assert status == 200, status
    return sorted(k["kid"] for k in json.loads(body)["keys"])


class Writer(threading.Thread):
    """Commits one row after another into palaver.db (WAL) from another process's connection
    until stopped: the load a busy server puts on its store while a backup runs."""

    def __init__(self, db_path):
        super().__init__(daemon=True)
        self.db_path, self.stop, self.committed, self.error = db_path, threading.Event(), 0, None

    def run(self):
        try:
            db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
            db.execute("CREATE TABLE IF NOT EXISTS load_rows (n INTEGER PRIMARY KEY, pad BLOB)")
            while not self.stop.is_set():
                db.execute("INSERT INTO load_rows (n, pad) VALUES (?, randomblob(2000))", (self.committed + 1,))
                self.committed += 1
            db.close()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


class BackupRestore(unittest.TestCase):
    def test_round_trip_under_load(self):
        s = Palaverd()
        t = None
        backups = os.path.join(s.dir, "backups")
        os.makedirs(backups)
        try:
            for name in ("anna", "bert"):
                s.add_user(name, "secret-" + name)
            r = run(s, "settings", "set", "signaling.guests_enabled", "true")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run(s, "settings", "set", "web.camera_bitrate_kbps", "1234")
            self.assertEqual(r.returncode, 0, r.stderr)
            settings_before = run(s, "settings", "list").stdout
            kids_before = jwks_kids(s)
            ca_before = open(s.ca).read()
            turn_secret_before = open(os.path.join(s.state, "turn_secret")).read()

            writer = Writer(os.path.join(s.state, "palaver.db"))
            writer.start()
            while writer.committed < 200 and writer.error is None:
                time.sleep(0.01)
            counts = []
            for i in range(3):
                path = os.path.join(backups, f"b{i}.db")
                low = writer.committed
                started = time.time()
                r = run(s, "backup", path, timeout=60)
                high = writer.committed
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertLess(time.time() - started, 30)
                self.assertIn("keep it as secret as a private key", r.stdout)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
                self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "delete")
                n, top = db.execute("SELECT count(*), max(n) FROM load_rows").fetchone()
                db.close()
                # A snapshot: rows 1..n with no gap, taken while the writer went on.
                self.assertEqual(n, top)
                self.assertGreaterEqual(n, low)
                self.assertLessEqual(n, high + 1)
                counts.append(n)
            writer.stop.set()
            writer.join(10)
            self.assertIsNone(writer.error)
            self.assertGreater(writer.committed, counts[0], "the writer was blocked during the backups")
            self.assertFalse([f for f in os.listdir(backups) if f.startswith(".")], "temporary files left behind")

            # A restore refuses while the server runs, and changes nothing.
            db_before = os.stat(os.path.join(s.state, "palaver.db")).st_ino
            r = run(s, "restore", os.path.join(backups, "b2.db"))
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"palaverd is running on the state dir {s.state} (pid {s.proc.pid})", r.stderr)
            self.assertIn("systemctl stop palaver", r.stderr)
            self.assertEqual(os.stat(os.path.join(s.state, "palaver.db")).st_ino, db_before)

            # Into a fresh installation (another state dir): everything comes back.
            t = Palaverd(expect_start=False)
            r = run(t, "restore", os.path.join(backups, "b2.db"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Restored", r.stdout)
            t.start()
            self.assertEqual(open(t.ca).read(), ca_before)
            self.assertEqual(open(os.path.join(t.state, "turn_secret")).read(), turn_secret_before)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(t.state, "turn_secret")).st_mode),
                             stat.S_IMODE(os.stat(os.path.join(s.state, "turn_secret")).st_mode))
            self.assertEqual(jwks_kids(t), kids_before)
            self.assertEqual(run(t, "settings", "list").stdout, settings_before)
            users = run(t, "user", "list").stdout
            for name in ("admin", "anna", "bert"):
                self.assertIn(name, users)
            self.assertNotIn("created the initial administrator", t.stderr())
            db = sqlite3.connect(os.path.join(t.state, "palaver.db"))
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            db.close()
            self.assertNotIn("palaver_backup_files", tables)
            self.assertNotIn("palaver_backup_meta", tables)
            self.assertIn("load_rows", tables)
        finally:
            s.close()
            if t:
                t.close()

    def test_restore_keeps_the_previous_database_and_refuses_other_files(self):
        s = Palaverd()
        try:
            backup = os.path.join(s.dir, "one.db")
            self.assertEqual(run(s, "backup", backup).returncode, 0)
            s.add_user("later", "secret-later")
            s.stop()
            r = run(s, "restore", backup)
            self.assertEqual(r.returncode, 0, r.stderr)
            kept = os.path.join(s.state, "palaver.db.pre-restore")
            db = sqlite3.connect(kept)
            self.assertEqual(db.execute("SELECT count(*) FROM directory_users WHERE username='later'").fetchone()[0], 1)
            db.close()
            s.start()
            self.assertNotIn("later", run(s, "user", "list").stdout)
            # Not a backup: refused before anything is touched.
            plain = os.path.join(s.dir, "plain.db")
            sqlite3.connect(plain).execute("CREATE TABLE x (y)").connection.commit()
            s.stop()
            for bad, why in ((plain, "is not a palaverd backup"), (s.config_path, "is not a readable palaverd backup"),
                             (os.path.join(s.dir, "missing.db"), "no backup file")):
                r = run(s, "restore", bad)
                self.assertEqual(r.returncode, 1, bad)
                self.assertIn(why, r.stderr)
        finally:
            s.close()

    def test_backup_without_database_and_usage(self):
        s = Palaverd(expect_start=False)
        try:
            r = run(s, "backup", os.path.join(s.dir, "x.db"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("no database at", r.stderr)
            self.assertEqual(run(s, "backup").returncode, 2)
            r = run(s, "restore", "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn("Usage: palaverd restore FILE", r.stdout)
        finally:
            s.close()

    def test_second_server_on_the_same_state_dir_is_refused(self):
        s = Palaverd()
        try:
            code, _, err = s.run_once()
            self.assertNotEqual(code, 0)
            self.assertIn(f"palaverd is running on the state dir {s.state} (pid {s.proc.pid}); only one may use it", err)
            status, _, _, _ = s.curl("/healthz")
            self.assertEqual(status, 200)
        finally:
            s.close()


@unittest.skipIf(os.geteuid() != 0, "needs root: a command run as root on a state dir another user owns")
class RunAsRoot(unittest.TestCase):
    """The package's service runs as `palaver`; admins run `palaverd user ...` and `restore` as root.
    What those create in the state dir must stay usable by the service's user."""

    def test_files_root_creates_go_to_the_state_dir_owner(self):
        s = Palaverd(expect_start=False)
        try:
            os.makedirs(s.state)
            os.chown(s.state, 65534, 65534)  # nobody: stands for the service's user
            s.add_user("early", "secret-early")  # before any start: creates palaver.db
            backup = os.path.join(s.dir, "b.db")
            for d, dirs, files in os.walk(s.state):
                for name in dirs + files:
                    self.assertEqual(os.lstat(os.path.join(d, name)).st_uid, 65534, name)
            # A restore as root, too. (The server runs as root here: afterwards its files are given
            # to nobody, as if the service's user had written them.)
            s.start()
            self.assertEqual(run(s, "backup", backup).returncode, 0)
            s.stop()
            for d, dirs, files in os.walk(s.state):
                for name in dirs + files:
                    os.lchown(os.path.join(d, name), 65534, 65534)
            r = run(s, "restore", backup)
            self.assertEqual(r.returncode, 0, r.stderr)
            owned_by_root = [os.path.join(d, n) for d, dirs, files in os.walk(s.state) for n in dirs + files
                             if os.lstat(os.path.join(d, n)).st_uid != 65534]
            self.assertEqual(owned_by_root, [])
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()

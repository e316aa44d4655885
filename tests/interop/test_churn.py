"""Viewers as they behave: for a minute, 120 players of one live stream
each play 0.1 to 1.5 s and vanish with a TCP reset (a killed player, a
dropped mobile link), replaced at once, while 20 others watch throughout.
ffmpeg publishes the test stream. The steady players must never be cut
off nor fall behind, every churning player must start, and the origin
must stay up and exit cleanly. The landed origin of issue 2-4 died with
SIGSEGV within 2 s of this (a use after free when a write failed); the
sanitizer build of CI runs this test too."""

import json
import os
import subprocess
import sys
import unittest

import harness

STREAM = "churn"
SECONDS = int(os.environ.get("REWIND_CHURN_SECONDS", "60"))
CHURN_SLOTS = 120
STEADY = 20


def bench_binary():
    binary = os.environ.get("REWIND_BENCH")
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError("set REWIND_BENCH to the rewind-bench binary (got %r)" % (binary,))
    return binary


@harness.origin_only("drives the origin with its own load tool")
class ChurnTest(harness.ServerTestCase):
    # Live only: what is under test is the players' coming and going.
    origin_args = ["--default-app.dvr.record", "off", "--log-level", "info"]

    @classmethod
    def setUpClients(cls):
        cls.publisher = cls.start_publisher(STREAM)
        cls.server.wait_publishing(STREAM, timeout=20)

    def run_bench(self, mode, clients, label, extra=()):
        json_path = os.path.join(self.workdir, label + ".json")
        args = [bench_binary(), mode, "--url", self.server.url(STREAM), "--clients", str(clients),
                "--duration", str(SECONDS), "--report-interval", "10", "--json", json_path] + list(extra)
        return harness.Process(args, self.workdir, label), json_path

    def test_players_vanishing_with_resets_beside_steady_players(self):
        steady, steady_json = self.run_bench("play", STEADY, "steady")
        churn, churn_json = self.run_bench("churn", CHURN_SLOTS, "churn",
                                           ["--churn-min-ms", "100", "--churn-max-ms", "1500"])
        churn_rc = churn.wait(SECONDS + 60)
        steady_rc = steady.wait(SECONDS + 60)
        self.assertServerAlive()
        with open(churn_json) as f:
            c = json.load(f)
        with open(steady_json) as f:
            s = json.load(f)
        sys.stderr.write("\n  [churn] %s\n  [steady] %s\n" % (churn.stdout.decode().strip(),
                                                              steady.stdout.decode().strip()))
        # Every churning player started and played until it vanished.
        self.assertGreater(c["vanished"], SECONDS * 40, "too few players came and went to mean anything")
        self.assertEqual(c["failed"], 0, c["failure_reasons"])
        self.assertEqual(c["cut_off"], 0, c["failure_reasons"])
        self.assertEqual(churn_rc, 0, churn.stderr_tail())
        # The steady players watched the whole minute.
        self.assertEqual(s["playing"], STEADY, s)
        self.assertEqual(s["failed"] + s["closed"], 0, s["failure_reasons"])
        self.assertIsNone(self.server.log.find(r"too slow|fell behind"),
                          "a player was judged slow: %s" % self.server.log.tail())
        if not harness.SANITIZED:
            # (A sanitizer build is too slow to promise latency.)
            self.assertLess(s["lag_ms"]["max"]["max"], 1000, s["lag_ms"])
            self.assertEqual(steady_rc, 0, steady.stderr_tail())
        self.assertTrue(self.publisher.alive(), self.publisher.stderr_tail())


if __name__ == "__main__":
    unittest.main()

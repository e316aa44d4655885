"""Lua applications in MonaServer's style (--apps-dir, docs/applications.md):
scripts that accept with extra fields, reject with and without a message,
answer a client method, count onManage ticks, redirect in onHandshake,
refuse a publish in onPublish, and loop forever (cut off, the server
serves on). A raw client reads the statuses; ffmpeg publishes.
"""

import os
import shutil
import sys
import time
import unittest

import harness
from harness import HOST
from rtmp_client import VIDEO, RtmpClient, status_info

ROOT = r'''
ticks = 0
started = nil

function onStart(path)
  started = path
end

function onManage()
  ticks = ticks + 1
end

function onHandshake(address, path, properties, attempts)
  if path == "moved" then return "rtmp://other.example/live" end
end

function onConnection(client, name)
  if name == nil then return end  -- encoders (ffmpeg) send no name
  if name == "Tom" then
    function client:onMessage(text) return "Tom said " .. text end
    function client:ticks() return ticks end
    function client:started() return started end
    function client:broken() error("this method is broken") end
    return {message = "welcome", id = client.id}
  end
  if name == "loop" then while true do end end
  if name == "silent" then error() end
  error("you are not Tom!")
end

function onPublish(client, name)
  if name:sub(1, 5) == "nopub" then error("no publishing of " .. name) end
end
'''


def connect(port, app="live", *args):
    """(client, reply name, info object) of a raw connect with extra args."""
    c = RtmpClient(HOST, port)
    c.handshake()
    tc_url = "rtmp://%s:%d/%s" % (HOST, port, app)
    c.send_command("connect", 1, {"app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": tc_url, "objectEncoding": 0.0},
                   *args)
    values = c.wait_for_command(("_result", "_error"))
    return c, values[0], status_info(values)


class ScriptsTest(harness.NotesFailures):

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.failed = False
        apps = os.path.join(cls.workdir, "apps")
        os.makedirs(apps)
        with open(os.path.join(apps, "main.lua"), "w") as f:
            f.write(ROOT)
        cls.server = harness.OriginServer(cls.workdir, ["--apps-dir", apps, "--scripts.manage-interval-ms", "200",
                                                        "--default-app.dvr.record", "off"])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        alive = cls.server.alive()
        rc = cls.server.stop()
        if cls.failed or not alive or rc != 0:
            sys.stderr.write("\n[%s] kept %s; log tail:\n%s\n" % (cls.__name__, cls.workdir, cls.server.log.tail(30)))
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)
        if not alive or rc != 0:
            raise AssertionError("the server died or did not exit cleanly (exit code %s)" % rc)

    def test_1_accept_with_fields_and_a_client_method(self):
        c, reply, info = connect(self.server.port, "live", "Tom")
        try:
            self.assertEqual(reply, "_result")
            self.assertEqual(info["code"], "NetConnection.Connect.Success")
            self.assertEqual(info["message"], "welcome")
            self.assertIsInstance(info["id"], float)
            txn = c.call("onMessage", "hello")
            values = c.wait_for_reply(txn)
            self.assertEqual(values[0], "_result")
            self.assertEqual(values[3], "Tom said hello")
            txn = c.call("broken")
            values = c.wait_for_reply(txn)
            self.assertEqual(values[0], "_error")
            self.assertEqual(status_info(values)["description"], "this method is broken")
            txn = c.call("started")
            self.assertEqual(c.wait_for_reply(txn)[3], "")  # the root application's path
        finally:
            c.close()
        # The log says where.
        self.server.wait_log(r"main\.lua:\d+: this method is broken", timeout=5)

    def test_2_reject_with_and_without_a_message(self):
        c, reply, info = connect(self.server.port, "live", "Jerry")
        c.close()
        self.assertEqual((reply, info["code"]), ("_error", "NetConnection.Connect.Rejected"))
        self.assertEqual(info["description"], "you are not Tom!")
        c, reply, info = connect(self.server.port, "live", "silent")
        c.close()
        self.assertEqual((reply, info["code"]), ("_error", "NetConnection.Connect.Rejected"))
        self.assertEqual(info["description"], "client rejected")

    def test_3_onmanage_ticks(self):
        c, _, _ = connect(self.server.port, "live", "Tom")
        try:
            first = c.wait_for_reply(c.call("ticks"))[3]
            time.sleep(1.0)
            second = c.wait_for_reply(c.call("ticks"))[3]
        finally:
            c.close()
        # Every 200 ms: about 5 in a second.
        self.assertGreaterEqual(second - first, 3)
        self.assertLessEqual(second - first, 7)

    def test_4_onhandshake_redirects(self):
        c, reply, info = connect(self.server.port, "moved", "Tom")
        c.close()
        self.assertEqual((reply, info["code"]), ("_error", "NetConnection.Connect.Rejected"))
        self.assertEqual(info["ex"]["code"], 302)
        self.assertEqual(info["ex"]["redirect"], "rtmp://other.example/live")

    def test_5_onpublish_rejects(self):
        publisher = harness.start_publisher(self.workdir, self.server.publish_url("nopub1"), label="refused")
        self.assertNotEqual(publisher.wait(20), 0, "ffmpeg published what the script refused")
        c, _, _ = connect(self.server.port, "live", "Tom")
        try:
            sid = c.create_stream()
            c.publish(sid, "nopub2")
            info = c.wait_for_status(("NetStream.Publish.Rejected",))
            self.assertEqual(info["description"], "no publishing of nopub2")
        finally:
            c.close()
        ok = harness.start_publisher(self.workdir, self.server.publish_url("allowed"), label="allowed",
                                     duration=3)
        try:
            self.server.wait_publishing("allowed", timeout=15)
        finally:
            ok.kill()

    def test_6_an_endless_loop_is_cut_off(self):
        started = time.monotonic()
        c, reply, info = connect(self.server.port, "live", "loop")
        c.close()
        self.assertEqual((reply, info["code"]), ("_error", "NetConnection.Connect.Rejected"))
        self.assertIn("instruction budget", info["description"])
        self.assertLess(time.monotonic() - started, 5)
        # The same script serves the next client.
        c, reply, info = connect(self.server.port, "live", "Tom")
        c.close()
        self.assertEqual(reply, "_result")
        self.assertTrue(self.server.alive())


PROXY_SCRIPT = r'''
statuses = {}

function onStart(path)
  ps = ProxyStream.new("rtmp://127.0.0.1:%(port)d/live")
  ps.onStatus = function(info) statuses[#statuses + 1] = info.code end
  ps:proxyFrom("mirror", "cam")
  local bad = ProxyStream.new("rtmp://127.0.0.1:%(port)d/live")
  bad.onStatus = function(info) statuses[#statuses + 1] = "bad:" .. info.code end
  bad:proxyFrom("../evil", "cam")
end

function onConnection(client)
  function client:statuses() return table.concat(statuses, ",") end
  function client:stopProxy() ps:stop() return true end
end
'''


class ProxyStreamScriptTest(unittest.TestCase):
    """FMS's server-side ProxyStream from Lua at an edge: a script pulls the
    origin's "cam" as "mirror", hears ProxyStream.Proxy.Start, and a player
    at the edge plays "mirror"."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.origin = harness.OriginServer(cls.workdir, ["--default-app.dvr.record", "off"])
        cls.origin.start()
        cls.addClassCleanup(cls.origin.kill)
        cls.publisher = harness.start_publisher(cls.workdir, cls.origin.publish_url("cam"))
        cls.addClassCleanup(cls.publisher.kill)
        cls.origin.wait_publishing("cam", timeout=15)
        apps = os.path.join(cls.workdir, "edge-apps")
        os.makedirs(apps)
        with open(os.path.join(apps, "main.lua"), "w") as f:
            f.write(PROXY_SCRIPT % {"port": cls.origin.port})
        cls.edge = harness.ProxyServer(cls.workdir, "edge", ["rtmp://%s:%d" % (HOST, cls.origin.port)],
                                       ["--apps-dir", apps])
        cls.edge.start()
        cls.addClassCleanup(cls.edge.kill)

    @classmethod
    def tearDownClass(cls):
        codes = [cls.edge.stop(), cls.origin.stop()]
        if any(codes):
            raise AssertionError("a server did not exit cleanly: %s\n%s" % (codes, cls.edge.log.tail(30)))
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def test_a_script_pulls_a_stream(self):
        self.edge.wait_log(r"ProxyStream\.Proxy\.Start app=live stream=mirror", timeout=20)
        c, reply, _ = connect(self.edge.port, "live")
        try:
            self.assertEqual(reply, "_result")
            statuses = harness.wait_until(
                lambda: (lambda s: s if "ProxyStream.Proxy.Start" in s else None)(
                    c.wait_for_reply(c.call("statuses"))[3]), 10, what="Proxy.Start in the script")
            self.assertIn("bad:ProxyStream.Proxy.BadName", statuses)
            sid = c.create_stream()
            c.play(sid, "mirror")
            c.wait_for_status(("NetStream.Play.Start",), timeout=10)
            c.wait_for(lambda m: m.type == VIDEO, timeout=10, what="video of the script's pull")
            self.assertTrue(c.wait_for_reply(c.call("stopProxy"))[3])
            harness.wait_until(lambda: "ProxyStream.Proxy.Stop" in c.wait_for_reply(c.call("statuses"))[3], 10,
                               what="Proxy.Stop in the script")
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()

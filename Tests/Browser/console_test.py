#!/usr/bin/env python3
"""Browser tests of the Warren console in headless Chromium, against a running cluster.

Started by Tests/NodeTests/Console/ConsoleBrowserTests.swift, which brings up three real
`warren node` processes and the users named here. Standard library only; Chromium is driven
over the DevTools protocol (cdp.py). Screenshots of every page go to --screenshots.

    console_test.py --url https://127.0.0.1:PORT --ca ca.pem --admin alice:PW --auditor audrey:PW \
        --mapping-port N --mapping-host 127.0.0.2 --warren PATH --screenshots DIR
"""

import argparse
import csv
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, find_chromium  # noqa: E402

STEPS = []


def step(name):
    def wrap(f):
        STEPS.append((name, f))
        return f
    return wrap


class Console:
    """The browser plus what the steps share."""

    def __init__(self, args, browser):
        self.args = args
        self.b = browser
        self.url = args.url.rstrip("/")
        self.tls = ssl.create_default_context(cafile=args.ca)
        self.shots = args.screenshots
        self.state = {}

    # --- the API, directly (to set up and to check what the browser shows) ---
    def api(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=15) as r:
                raw = r.read()
                is_json = r.headers.get("Content-Type", "").startswith("application/json")
                return r.status, (json.loads(raw) if raw and is_json else raw), dict(r.headers)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw), dict(e.headers)
            except ValueError:
                return e.code, raw.decode(errors="replace"), dict(e.headers)

    def login_token(self, user, password):
        status, answer, _ = self.api("POST", "/v1/login", {"username": user, "password": password})
        assert status == 200, f"login {user}: {status} {answer}"
        return answer["token"]

    # --- the page ---
    def rendered(self):
        return int(self.b.js("Number(document.getElementById('main').dataset.rendered || 0)"))

    def wait_render(self, before, page=None, state="ready"):
        cond = f"(() => {{ const m = document.getElementById('main'); return Number(m.dataset.rendered || 0) > {before}"
        if page:
            cond += f" && m.dataset.page === {json.dumps(page)}"
        if state:
            cond += f" && m.dataset.state === {json.dumps(state)}"
        cond += "; })()"
        self.b.wait(cond, f"page {page or '?'} {state or ''}")

    def go(self, hash_, page, state="ready"):
        before = self.rendered()
        self.b.js(f"location.hash = {json.dumps(hash_)}")
        self.wait_render(before, page, state)

    def exists(self, selector):
        return self.b.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                         "return !!e && !e.closest('[hidden]'); })()")

    def text(self, selector):
        self.b.wait(f"!!document.querySelector({json.dumps(selector)})", selector)
        return self.b.js(f"document.querySelector({json.dumps(selector)}).textContent")

    def click(self, selector):
        self.b.wait(f"!!document.querySelector({json.dumps(selector)})", selector)
        self.b.js(f"document.querySelector({json.dumps(selector)}).click()")

    def fill(self, selector, value):
        self.b.wait(f"!!document.querySelector({json.dumps(selector)})", selector)
        self.b.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input', {{bubbles: true}}));
            e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")

    def shot(self, name):
        self.b.screenshot(os.path.join(self.shots, name + ".png"))

    def sign_in(self, user, password):
        before = self.rendered()
        self.fill("#login-user", user)
        self.fill("#login-password", password)
        self.click("#login-submit")
        self.wait_render(before, "cluster")


@step("sign in")
def sign_in(c):
    c.b.navigate(c.url + "/")
    c.b.wait("!!document.querySelector('#login-form')", "the sign-in form")
    c.shot("01-sign-in")
    user, password = c.args.admin.split(":", 1)
    # A wrong password shows the API's message, not a blank page.
    c.fill("#login-user", user)
    c.fill("#login-password", "not-the-password")
    c.click("#login-submit")
    message = c.b.wait("document.querySelector('#login-form .error')?.textContent", "the sign-in error")
    assert "wrong user name or password" in message, message
    c.sign_in(user, password)
    stored = c.b.js("sessionStorage.getItem('warren.session')")
    assert stored and json.loads(stored)["token"], "the token is kept in sessionStorage"
    assert c.b.js("document.cookie") == "", "no cookie is set"
    c.state["admin_token"] = json.loads(stored)["token"]


@step("cluster page shows the three members and refreshes")
def cluster(c):
    rows = c.b.wait("document.querySelectorAll('#members tbody tr').length === 3 && "
                    "[...document.querySelectorAll('#members tbody tr')].map(r => r.cells[0].textContent)",
                    "three members")
    assert sorted(rows) == ["n1", "n2", "n3"], rows
    roles = c.b.js("[...document.querySelectorAll('#members tbody tr')].map(r => r.cells[1].textContent)")
    assert roles.count("leader") == 1, roles
    first = c.text("#cluster .muted")
    c.b.wait(f"document.querySelector('#cluster .muted').textContent !== {json.dumps(first)}",
             "the auto-refresh", timeout=12)
    c.shot("02-cluster")


@step("create a tunnel and read its connect URL once")
def create_tunnel(c):
    c.go("#/tunnels", "tunnels")
    c.fill("#tunnel-name", "browser-test")
    c.fill("#tunnel-duration", "48h")
    c.click("#tunnel-create-submit")
    url = c.b.wait("document.querySelector('#connect-url')?.value", "the connect URL")
    assert url.startswith("https://") and "/v1/connect/t-" in url and "token=" in url and "ca=sha256:" in url, url
    warning = c.text("#connect-warning")
    assert "secret" in warning and "only now" in warning, warning
    tunnel_id = url.split("/v1/connect/")[1].split("?")[0]
    c.state["tunnel"] = tunnel_id
    c.b.wait(f"!!document.querySelector('#tunnels tr[data-id=\"{tunnel_id}\"]')", "the new tunnel in the list")
    state, left = c.b.js(f"(() => {{ const r = document.querySelector('#tunnels tr[data-id=\"{tunnel_id}\"]'); "
                         "return [r.dataset.state, r.cells[2].textContent]; })()")
    assert state == "open" and left in ("1d 23h", "2d 0h"), (state, left)
    status, detail, _ = c.api("GET", f"/v1/tunnels/{tunnel_id}", token=c.state["admin_token"])
    assert status == 200 and detail["tunnel"]["name"] == "browser-test", (status, detail)
    c.b.call("Browser.grantPermissions", {
        "origin": c.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    c.click("#copy-connect-url")
    c.b.wait("document.querySelector('#connect-panel [aria-live]').textContent === 'Copied.'", "the copy")
    copied = c.b.js("navigator.clipboard.readText()")
    assert copied == url, copied
    c.shot("03-tunnel-created")
    c.click("#connect-done")
    assert not c.exists("#connect-url"), "the connect URL is gone once dismissed"
    # A custom lifetime; this one stays open for the auditor's view.
    c.fill("#tunnel-name", "vendor-support")
    c.fill("#tunnel-duration", "custom")
    c.fill("#tunnel-custom", "90m")
    c.click("#tunnel-create-submit")
    url = c.b.wait("document.querySelector('#connect-url')?.value", "the second connect URL")
    c.state["open_tunnel"] = url.split("/v1/connect/")[1].split("?")[0]
    c.state["open_url"] = url
    c.click("#connect-done")
    c.b.wait(f"!!document.querySelector('#tunnels tr[data-id=\"{c.state['open_tunnel']}\"]')", "the second tunnel")
    left = c.b.js(f"document.querySelector('#tunnels tr[data-id=\"{c.state['open_tunnel']}\"]').cells[2].textContent")
    assert left in ("1h 29m", "1h 30m"), left
    c.shot("04-tunnels")


@step("add a mapping on the tunnel's page")
def add_mapping(c):
    c.go(f"#/tunnels/{c.state['tunnel']}", "tunnels-detail")
    before = c.rendered()
    c.fill("#mapping-kind", "expose")
    c.fill("#mapping-target", "127.0.0.1:9")
    c.fill("#mapping-port", str(c.args.mapping_port))
    c.fill("#mapping-allow", "127.0.0.0/8")
    c.click("#mapping-add-submit")
    c.wait_render(before, "tunnels-detail")
    targets = c.b.js("[...document.querySelectorAll('#mappings tbody tr')].map(r => r.textContent)")
    assert len(targets) == 1 and "127.0.0.1:9" in targets[0] and str(c.args.mapping_port) in targets[0], targets
    status, mappings, _ = c.api("GET", f"/v1/mappings?tunnel={c.state['tunnel']}", token=c.state["admin_token"])
    assert status == 200 and len(mappings) == 1 and mappings[0]["listenPort"] == c.args.mapping_port, mappings
    c.shot("05-tunnel-detail")


@step("close the tunnel after a confirmation, and see it closed")
def close_tunnel(c):
    c.click("#tunnel-close")
    text = c.b.wait("document.querySelector('dialog.confirm[open]')?.textContent", "the confirmation")
    assert "every active session" in text and "cannot be undone" in text, text
    c.shot("06-close-confirmation")
    # Cancel first: nothing happens.
    c.click("#confirm-cancel")
    assert c.b.js("!document.querySelector('dialog[open]')"), "the dialog is gone"
    status, detail, _ = c.api("GET", f"/v1/tunnels/{c.state['tunnel']}", token=c.state["admin_token"])
    assert detail["tunnel"]["state"] == "open", detail
    before = c.rendered()
    c.click("#tunnel-close")
    c.click("#confirm-ok")
    c.wait_render(before, "tunnels-detail")
    assert c.text("#tunnel-state").strip() == "closed"
    assert not c.exists("#tunnel-close"), "a closed tunnel has no close button"
    assert not c.exists("#mapping-add"), "a closed tunnel takes no mappings"
    status, detail, _ = c.api("GET", f"/v1/tunnels/{c.state['tunnel']}", token=c.state["admin_token"])
    assert detail["tunnel"]["state"] == "closed" and detail["tunnel"]["closeReason"] == "admin", detail
    c.go("#/tunnels", "tunnels")
    state = c.b.js(f"document.querySelector('#tunnels tr[data-id=\"{c.state['tunnel']}\"]').dataset.state")
    assert state == "closed", state


@step("mappings page")
def mappings(c):
    c.go("#/mappings", "mappings")
    assert c.b.js("document.querySelectorAll('#mappings tbody tr').length") == 1
    c.shot("07-mappings")


@step("proxy endpoints: create, scope tab, batch unassociate, delete refused while rules exist")
def endpoints(c):
    c.go("#/endpoints", "endpoints")
    c.shot("08-endpoints-empty")
    before = c.rendered()
    c.fill("#endpoint-name", "edge")
    c.fill("#endpoint-vpc", "vpc-a")
    c.fill("#endpoint-subnets", "10.1.0.0/16, 10.2.0.0/16")
    c.click("#endpoint-create-submit")
    c.wait_render(before, "endpoints-detail")
    endpoint = c.b.js("location.hash").split("/")[2]
    c.click("#tab-scope")
    c.fill("#scope-subnets", "10.3.0.0/16")
    before = c.rendered()
    c.click("#scope-associate-submit")
    c.wait_render(before, "endpoints-detail")
    assert c.b.js("location.hash").endswith("/scope"), "the scope tab stays selected"
    scope = c.b.js("[...document.querySelectorAll('#scope tbody tr')].map(r => r.cells[2].textContent)")
    assert scope == ["vpc-a", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"], scope
    c.shot("09-endpoint-scope")
    before = c.rendered()
    c.b.js("document.querySelectorAll('.scope-pick')[2].click(); document.querySelectorAll('.scope-pick')[3].click()")
    c.click("#scope-batch")
    c.wait_render(before, "endpoints-detail")
    scope = c.b.js("[...document.querySelectorAll('#scope tbody tr')].map(r => r.cells[2].textContent)")
    assert scope == ["vpc-a", "10.1.0.0/16"], scope
    before = c.rendered()
    c.b.js("[...document.querySelectorAll('#scope tbody tr')][0].querySelector('button').click()")
    c.wait_render(before, "endpoints-detail")
    scope = c.b.js("[...document.querySelectorAll('#scope tbody tr')].map(r => r.cells[2].textContent)")
    assert scope == ["10.1.0.0/16"], scope
    status, rule, _ = c.api("POST", "/v1/forwards", {
        "endpointId": endpoint, "kind": "local", "listenPort": c.args.mapping_port + 1, "target": "10.1.0.5:22"},
        token=c.state["admin_token"])
    assert status == 201, (status, rule)
    c.go(f"#/endpoints/{endpoint}/overview", "endpoints-detail")
    assert c.b.js("document.querySelectorAll('#forwards tbody tr').length") == 1
    c.click("#endpoint-delete")
    c.click("#confirm-ok")
    message = c.b.wait("document.querySelector('#endpoint-status .error')?.textContent", "the refusal")
    assert "1 forwarding rule" in message and "has_rules" in message, message
    c.shot("10-endpoint-delete-refused")


class EchoServer:
    """A TCP echo server on 127.0.0.1 (the application behind the tunnel)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def close(self):
        self.sock.close()


def echo_client(host, port, deadline):
    """A connection through the tunnel that has echoed once, retried until `deadline`."""
    last = None
    while time.time() < deadline:
        try:
            s = socket.create_connection((host, port), timeout=3)
            s.sendall(b"ping")
            if s.recv(4) == b"ping":
                return s
            s.close()
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"no echo through {host}:{port}: {last}")


@step("sessions: a live session is listed cluster-wide, on its tunnel, and killed")
def sessions(c):
    token = c.state["admin_token"]
    step_started = int(time.time() * 1000) - 1000
    echo = EchoServer()
    state_dir = tempfile.mkdtemp(prefix="warren-console-connector-")
    connector = subprocess.Popen(
        [c.args.warren, "connector", "--url", c.state["open_url"], "--state-dir", state_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    try:
        port = c.args.mapping_port + 2
        status, mapping, _ = c.api("POST", "/v1/mappings", {
            "tunnelId": c.state["open_tunnel"], "kind": "expose", "target": f"127.0.0.1:{echo.port}",
            "listenPort": port}, token=token)
        assert status == 201, (status, mapping)
        client = echo_client(c.args.mapping_host, port, time.time() + 30)
        c.go(f"#/tunnels/{c.state['open_tunnel']}", "tunnels-detail")
        rows = c.b.wait("(() => { const r = document.querySelectorAll('#tunnel-sessions tbody tr'); "
                        "return r.length && [...r].map(x => x.textContent); })()", "the live session on its tunnel")
        assert len(rows) == 1 and f"127.0.0.1:{echo.port}" in rows[0], rows
        c.go("#/sessions", "sessions")
        rows = c.b.js("[...document.querySelectorAll('#sessions tbody tr')].map(r => r.textContent)")
        assert len(rows) == 1 and f"127.0.0.1:{echo.port}" in rows[0] and "vendor-support" in rows[0], rows
        c.shot("11-sessions")
        before = c.rendered()
        c.b.js("document.querySelector('#sessions tbody tr button').click()")
        text = c.b.wait("document.querySelector('dialog.confirm[open]')?.textContent", "the kill confirmation")
        assert "tunnel stays open" in text, text
        c.click("#confirm-ok")
        c.wait_render(before, "sessions")
        assert not c.exists("#sessions tbody tr"), "the killed session is gone from the list"
        client.settimeout(10)
        try:
            ended = client.recv(16) == b""
        except (ConnectionResetError, socket.timeout) as e:
            ended = not isinstance(e, socket.timeout)
        assert ended, "the killed session's connection stayed open"
        status, detail, _ = c.api("GET", f"/v1/tunnels/{c.state['open_tunnel']}", token=token)
        assert detail["tunnel"]["state"] == "open", detail
        # Session records reach the audit in batches (about a second later): wait for them
        # here, so they cannot land inside the audit step's window of exactly 45 records.
        deadline = time.time() + 15
        while True:
            status, page, _ = c.api("GET", f"/v1/audit?since={step_started}&limit=1000", token=token)
            actions = {r["action"] for r in page.get("records", [])}
            if {"session.close", "session.kill"} <= actions or time.time() > deadline:
                break
            time.sleep(0.1)
        assert {"session.close", "session.kill"} <= actions, actions
    finally:
        if client:
            client.close()
        connector.terminate()
        try:
            connector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            connector.kill()
            connector.wait()
        echo.close()
        shutil.rmtree(state_dir, ignore_errors=True)


def utc_local(ms):
    """A datetime-local value (seconds) for the browser, which runs with TZ=UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@step("audit: 45 records, 20 at a time with load more, none missing or repeated; details; export")
def audit(c):
    # A window of whole seconds holding exactly 45 new records: failed sign-ins of a
    # user that does not exist (each audited as a denied login).
    start = (int(time.time()) + 1) * 1000
    while time.time() * 1000 < start:
        time.sleep(0.01)
    for i in range(45):
        status, _, _ = c.api("POST", "/v1/login", {"username": f"ghost{i}", "password": "x"})
        assert status == 401, status
    end = (int(time.time()) + 1) * 1000
    while time.time() * 1000 < end:
        time.sleep(0.01)
    token = c.state["admin_token"]
    deadline = time.time() + 15
    while True:
        status, page, _ = c.api("GET", f"/v1/audit?since={start}&until={end}&limit=1000", token=token)
        expected = [r["seq"] for r in page["records"]]
        if len(expected) >= 45 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(expected) == 45 and all(r["action"] == "login" for r in page["records"]), page["records"]

    c.go("#/audit", "audit")
    c.fill("#audit-start", utc_local(start))
    c.fill("#audit-end", utc_local(end))
    c.click("#audit-apply")
    c.b.wait(f"document.querySelector('#audit tbody tr')?.dataset.seq === '{expected[0]}'", "the first page")
    seen = c.b.js("[...document.querySelectorAll('#audit tbody tr')].map(r => Number(r.dataset.seq))")
    assert len(seen) == 20, seen
    assert c.exists("#audit-more")
    c.shot("12-audit")
    pages = 1
    while c.exists("#audit-more"):
        count = len(seen)
        c.click("#audit-more")
        c.b.wait(f"document.querySelectorAll('#audit tbody tr').length > {count} || "
                 "document.querySelector('#audit-more').hidden", "the next page")
        seen = c.b.js("[...document.querySelectorAll('#audit tbody tr')].map(r => Number(r.dataset.seq))")
        pages += 1
    assert pages == 3, pages
    assert len(seen) == len(set(seen)), f"repeated records: {seen}"
    assert seen == expected, f"browser {seen} != API {expected}"
    assert "all in this range" in c.text("#audit-count")

    c.b.js("document.querySelector('#audit tbody tr button').click()")
    text = c.b.wait("document.querySelector('dialog.info[open]')?.textContent", "the record's details")
    assert f"#{expected[0]}" in text and "ghost0" in text and "denied" in text and "Hash" in text, text
    c.shot("13-audit-details")
    c.click("#dialog-close")

    downloads = os.path.join(c.shots, "downloads")
    os.makedirs(downloads, exist_ok=True)
    for name in os.listdir(downloads):
        os.remove(os.path.join(downloads, name))
    c.b.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})

    def downloaded(name):
        path = os.path.join(downloads, name)
        deadline = time.time() + 15
        while not os.path.exists(path) or any(n.endswith(".crdownload") for n in os.listdir(downloads)):
            assert time.time() < deadline, f"no {name} in {os.listdir(downloads)}"
            time.sleep(0.05)
        return open(path, encoding="utf-8").read()

    c.click("#audit-export-csv")
    rows = list(csv.reader(io.StringIO(downloaded("warren-audit.csv"))))
    header, rows = rows[0], rows[1:]
    seq = header.index("seq")
    assert [int(r[seq]) for r in rows] == expected, rows
    c.click("#audit-export-json")
    lines = [json.loads(line) for line in downloaded("warren-audit.jsonl").splitlines() if line.strip()]
    assert [r["seq"] for r in lines] == expected, lines


@step("users page (admin)")
def users(c):
    c.go("#/users", "users")
    names = c.b.js("[...document.querySelectorAll('#users tbody tr')].map(r => r.cells[0].textContent)")
    assert c.args.auditor.split(":")[0] in names, names
    c.shot("14-users")


@step("narrow window and keyboard")
def narrow_and_keyboard(c):
    c.b.call("Emulation.setDeviceMetricsOverride", {"width": 420, "height": 860, "deviceScaleFactor": 1, "mobile": True})
    c.go("#/tunnels", "tunnels")
    wide = c.b.js("document.documentElement.scrollWidth")
    assert wide <= 420, f"the page scrolls sideways at 420 px ({wide} px wide)"
    c.shot("15-tunnels-narrow")
    c.b.call("Emulation.clearDeviceMetricsOverride")
    c.go("#/mappings", "mappings")
    c.go("#/tunnels", "tunnels")
    c.b.js("document.activeElement && document.activeElement.blur(); window.focus()")
    reached = []
    for _ in range(14):
        c.b.key("Tab", key_code=9)
        reached.append(c.b.js("document.activeElement.id || document.activeElement.textContent.trim()"))
    for want in ("nav-tunnels", "nav-audit", "sign-out", "tunnel-name"):
        assert want in reached, f"Tab never reached {want}: {reached}"


@step("sign out clears the session")
def sign_out(c):
    before = c.rendered()
    c.click("#sign-out")
    c.wait_render(before, "login")
    assert c.b.js("sessionStorage.getItem('warren.session')") is None
    assert c.exists("#login-form") and not c.exists("#nav-tunnels")


@step("an auditor sees no create or close button, and a forged request is refused")
def auditor(c):
    user, password = c.args.auditor.split(":", 1)
    c.sign_in(user, password)
    nav = c.b.js("[...document.querySelectorAll('#nav a')].map(a => a.id)")
    assert "nav-users" not in nav and "nav-audit" in nav and "nav-tunnels" in nav, nav
    c.go("#/tunnels", "tunnels")
    assert not c.exists("#tunnel-create"), "no create form for an auditor"
    c.shot("16-auditor-tunnels")
    c.go(f"#/tunnels/{c.state['open_tunnel']}", "tunnels-detail")
    assert c.text("#tunnel-state").strip() == "open"
    assert not c.exists("#tunnel-close"), "no close button for an auditor"
    assert not c.exists("#mapping-add"), "no mapping form for an auditor"
    c.go("#/endpoints", "endpoints")
    assert not c.exists("#endpoint-create")
    forged = c.b.js(f"""(async () => {{
        const token = JSON.parse(sessionStorage.getItem('warren.session')).token;
        const post = async (path, body) => {{
            const r = await fetch(path, {{method: 'POST', headers: {{'Authorization': 'Bearer ' + token,
                'Content-Type': 'application/json'}}, body: JSON.stringify(body)}});
            return [r.status, (await r.json()).error?.code];
        }};
        return [await post('/v1/tunnels', {{name: 'forged', duration: '24h'}}),
                await post('/v1/tunnels/{c.state['open_tunnel']}/close', {{}})];
    }})()""")
    assert forged == [[403, "forbidden"], [403, "forbidden"]], forged
    status, detail, _ = c.api("GET", f"/v1/tunnels/{c.state['open_tunnel']}", token=c.state["admin_token"])
    assert detail["tunnel"]["state"] == "open", detail
    status, tunnels, _ = c.api("GET", "/v1/tunnels", token=c.state["admin_token"])
    assert "forged" not in [t["name"] for t in tunnels], tunnels


@step("served with a strict CSP, no inline code, nothing from another origin")
def headers(c):
    status, _, hdrs = c.api("GET", "/")
    h = {k.lower(): v for k, v in hdrs.items()}
    assert status == 200 and h["content-type"].startswith("text/html"), (status, h)
    csp = h["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, csp
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", h
    assert h["referrer-policy"] == "no-referrer", h
    foreign = [u for u in c.b.requests if not (u.startswith(c.url + "/") or u.startswith(("blob:", "data:", "about:")))]
    assert not foreign, f"requests to other origins: {foreign}"
    assert not c.b.console_errors, f"console errors (CSP violations?): {c.b.console_errors}"
    # And the browser enforces it: an injected inline script does not run, and is reported.
    c.b.js("document.head.append(Object.assign(document.createElement('script'), {textContent: 'window.injected = 1'}))")
    c.b.wait("true", "events")
    assert c.b.js("typeof window.injected") == "undefined", "an inline script ran despite the CSP"
    deadline = time.time() + 5
    while not any("Content Security Policy" in str(e) for e in c.b.console_errors):
        assert time.time() < deadline, f"no CSP violation reported: {c.b.console_errors}"
        c.b.js("0")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="a node's HTTPS base URL")
    parser.add_argument("--ca", required=True, help="the cluster CA (PEM), to check the API directly")
    parser.add_argument("--admin", required=True, help="USER:PASSWORD of an admin")
    parser.add_argument("--auditor", required=True, help="USER:PASSWORD of an auditor")
    parser.add_argument("--mapping-port", type=int, required=True, help="a free port for mappings (it, +1 and +2 are used)")
    parser.add_argument("--screenshots", required=True, help="folder for screenshots (created)")
    parser.add_argument("--warren", required=True, help="the warren binary (to run a connector)")
    parser.add_argument("--mapping-host", required=True, help="a node's mapping address (127.0.0.2)")
    args = parser.parse_args()
    chromium = find_chromium()
    if not chromium:
        print("chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    os.makedirs(args.screenshots, exist_ok=True)
    started = time.time()
    browser = Browser(chromium)
    print(f"chromium up in {time.time() - started:.1f}s", flush=True)
    console = Console(args, browser)
    passed = failed = 0
    try:
        for name, run in STEPS:
            started = time.time()
            try:
                run(console)
                passed += 1
                print(f"ok   {name} ({time.time() - started:.1f}s)", flush=True)
            except Exception as e:  # a failed step stops the run: later steps build on it
                failed += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                try:
                    console.shot("failure")
                    print("     page: " + str(browser.js("document.getElementById('main').innerText"))[:1500])
                except Exception:
                    pass
                break
    finally:
        browser.close()
    print(f"{passed} passed, {failed} failed")
    print(f"screenshots: {args.screenshots}")
    return 0 if failed == 0 and passed == len(STEPS) else 1


if __name__ == "__main__":
    sys.exit(main())

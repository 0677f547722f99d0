"""A real browser for the dashboard's end-to-end tests: Playwright for Python driving Debian's
chromium, steered line by line by the Swift test (DashboardBrowserTests) that owns Tugboat, the
backends and the Twilio contract server.

Each line on stdin is a JSON command; each answer is one JSON line on stdout ({"ok": true, ...}
or {"ok": false, "error": "..."}). Commands:
  open {url, width, height}      a new page, same cookies (the request log and console errors start over)
  login {token}                   fills the login form and submits it
  wait {selector, text?, timeout} until the selector exists (and its text contains `text`)
  click {selector}                clicks it (inside the flame-graph frame with "frame": true)
  text {selector}                 the element's text
  eval {js}                       a value from the page
  zoom                            clicks a frame in the flame graph's <iframe>; answers whether it zoomed
  screenshot {path}               the full page, as PNG
  metrics {seconds}               the browser's CPU share over `seconds` idle (CDP Performance.getMetrics)
  report                          every URL the page requested, and its console errors
  quit
"""
import json
import sys
import time

from playwright.sync_api import sync_playwright


def main():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context()  # one cookie jar: a page opened later is still logged in
        page, requests, errors = None, [], []
        for line in sys.stdin:
            command = json.loads(line)
            name = command.get("cmd")
            try:
                if name == "open":
                    if page is not None:
                        page.close()
                    requests, errors = [], []
                    page = context.new_page()
                    page.set_viewport_size({"width": command.get("width", 1280), "height": command.get("height", 900)})
                    page.on("request", lambda request: requests.append(request.url))
                    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                    page.on("pageerror", lambda error: errors.append(str(error)))
                    page.goto(command["url"], wait_until="load")
                    # The page's own Navigation Timing: from the request to the load event (a new
                    # tab's renderer start-up is not the page's time).
                    load = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }")
                    answer = {"load_ms": round(load, 1)}
                elif name == "login":
                    page.fill("#token", command["token"])
                    page.click("#login button[type=submit]")
                    page.wait_for_function(
                        "() => document.getElementById('login').hidden || document.getElementById('login-error').textContent",
                        timeout=10000)
                    answer = {"logged_in": page.eval_on_selector("#login", "e => e.hidden"),
                              "error": page.text_content("#login-error")}
                elif name == "wait":
                    selector, text = command["selector"], command.get("text")
                    page.wait_for_function(
                        "([s, t]) => { const e = document.querySelector(s); return e && (!t || e.textContent.includes(t)); }",
                        arg=[selector, text], timeout=command.get("timeout", 10000))
                    answer = {}
                elif name == "click":
                    page.click(command["selector"])
                    answer = {}
                elif name == "text":
                    answer = {"text": page.text_content(command["selector"])}
                elif name == "eval":
                    answer = {"value": page.evaluate(command["js"])}
                elif name == "zoom":
                    frame = page.frame_locator("#flamegraph")
                    frame.locator("#frames g").first.wait_for(timeout=10000)
                    before = frame.locator("#unzoom").get_attribute("class")
                    # The widest frame below the root: a click zooms to it.
                    frame.locator("#frames g").nth(1).click()
                    after = frame.locator("#unzoom").get_attribute("class")
                    answer = {"before": before, "after": after}
                elif name == "screenshot":
                    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky header at the top
                    page.wait_for_timeout(300)
                    page.screenshot(path=command["path"], full_page=True)
                    answer = {}
                elif name == "metrics":
                    session = page.context.new_cdp_session(page)
                    session.send("Performance.enable")
                    def task_seconds():
                        values = {m["name"]: m["value"] for m in session.send("Performance.getMetrics")["metrics"]}
                        return values.get("TaskDuration", 0.0)
                    first, started = task_seconds(), time.monotonic()
                    time.sleep(command.get("seconds", 10))
                    busy, elapsed = task_seconds() - first, time.monotonic() - started
                    answer = {"cpu_percent": round(100 * busy / elapsed, 2)}
                elif name == "report":
                    answer = {"requests": requests, "console_errors": errors}
                elif name == "quit":
                    print(json.dumps({"ok": True}), flush=True)
                    break
                else:
                    raise ValueError(f"unknown command {name!r}")
                print(json.dumps({"ok": True, **answer}), flush=True)
            except Exception as error:  # reported to the Swift test, which fails with it
                seen = ""
                try:
                    seen = page.evaluate("() => document.body.innerText")[:1500] if page is not None else ""
                except Exception:
                    pass
                print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"[:1000] + f"\npage shows: {seen}\nconsole: {errors[-5:]}"}), flush=True)
        browser.close()


if __name__ == "__main__":
    main()
